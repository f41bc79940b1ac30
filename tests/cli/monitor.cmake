# apd-monitor: build and score against PyTorch, and its command line's errors.
if(APD_BUILD_TORCH)
  # apd-monitor: build and score against PyTorch on MNIST / Fashion-MNIST, the
  # paper's MLP and LeNet-5 (TorchScript); then its command line's errors.
  add_test(NAME mnist.monitor_build_and_score_agree_with_pytorch
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/monitor_test.sh ${MONITOR} ${TRAIN} ${MNIST}
            /usr/share/datasets/fashion-mnist ${APD_SCRIPT_DIR} ${APD_SCRATCH}/monitor ${EXTRACT})
  set_tests_properties(mnist.monitor_build_and_score_agree_with_pytorch PROPERTIES
    FIXTURES_REQUIRED script_models LABELS mnist TIMEOUT 600)
  set(MON ${APD_SCRATCH}/monitor-never-written.json)
  apd_expect(monitor.help 0 "build.*score" COMMAND ${MONITOR} --help)
  apd_expect(monitor.build_help 0 "--all-instances" COMMAND ${MONITOR} build --help)
  apd_expect(monitor.score_help 0 "--ood" COMMAND ${MONITOR} score --help)
  apd_expect(monitor.version 0 "^apd-monitor [0-9]+\\.[0-9]+\\.[0-9]+ \\(git" COMMAND ${MONITOR} --version)
  apd_expect(monitor.no_subcommand 2 "A subcommand is required" ONE_LINE COMMAND ${MONITOR})
  apd_expect(monitor.build_needs_out 2 "--out is required" ONE_LINE COMMAND ${MONITOR} build --run ${RUN})
  apd_expect(monitor.build_no_model 2 "give one of --run RUNDIR, --checkpoint FILE or --model FILE.pt" ONE_LINE
    ABSENT ${MON} COMMAND ${MONITOR} build --out ${MON})
  apd_expect(monitor.build_layer_zero 2 "--layers: ReLU layers are numbered from 1" ONE_LINE ABSENT ${MON} FIXTURES synthetic_run
    COMMAND ${MONITOR} build --run ${RUN} --layers 0 --out ${MON})
  string(REPEAT 9 309 nines)
  apd_expect(monitor.build_layer_309_digits 2 "--layers: '99999999999999999999[.][.][.] [(]309 digits[)]' is too large"
    ONE_LINE ABSENT ${MON} COMMAND ${MONITOR} build --run ${RUN} --layers
    ${nines} --out ${MON})
  apd_expect(monitor.build_layer_out_of_range 2 "--layers: layer 4 does not exist. the model has 2 ReLU layer" ONE_LINE
    ABSENT ${MON} FIXTURES synthetic_run COMMAND ${MONITOR} build --run ${RUN} --layers 4 --out ${MON})
  apd_expect(monitor.build_threads_zero 2 "--threads: 0 must be at least 1" ONE_LINE ABSENT ${MON}
    FIXTURES synthetic_run COMMAND ${MONITOR} build --run ${RUN} --threads 0 --out ${MON})
  apd_expect(monitor.score_needs_monitor 2 "--monitor is required" ONE_LINE COMMAND ${MONITOR} score)
  apd_expect(monitor.score_gamma_negative 2 "--gamma: -2 is negative" ONE_LINE COMMAND ${MONITOR} score --monitor x.json --gamma -2)
  apd_expect(monitor.score_missing_monitor 1 "nope.json: cannot open" ONE_LINE ABSENT ${MON}
    COMMAND ${MONITOR} score --monitor nope.json --out ${MON})
  apd_expect(monitor.score_text_format 2 "--format: the scores are written as json or csv" ONE_LINE ABSENT ${MON}
    COMMAND ${MONITOR} score --monitor x.json --format text --out ${MON})
endif()
