# apd-extract: the worked LeNet example, TorchScript models against PyTorch, the
# Figure-2 command, state_dicts saved by Python, and every bad option or file.
if(APD_BUILD_TORCH)
  # The README's worked example: examples/lenet trains and saves LeNet-5 (on 6,000 images here: the
  # path is the point), apd-extract sees its 4 ReLU layers and writes hex patterns (apd/2), which
  # apd-stats and apd-report read.
  add_test(NAME extract.lenet_example
    COMMAND bash -c "rm -rf '${APD_SCRATCH}/lenet-example' && ${APD_PYTHON} '${CMAKE_SOURCE_DIR}/examples/lenet/train_lenet.py' --data '${MNIST}' --out '${APD_SCRATCH}/lenet-example' --epochs 1 --train-limit 6000 && for kind in scripted traced; do '${EXTRACT}' --model '${APD_SCRATCH}/lenet-example/'$kind/epoch-1.pt --data '${MNIST}' --input-shape 1,28,28 --list-layers | grep -Eq '^ +4 +84 +84 ' || exit 1; done && '${EXTRACT}' --model '${APD_SCRATCH}/lenet-example/scripted/epoch-{epoch}.pt' --epochs 1 --data '${MNIST}' --split test --input-shape 1,28,28 --out '${APD_SCRATCH}/lenet-example/apd-e{epoch}.json' --quiet && grep -q '\"schema\":\"apd/2\"' '${APD_SCRATCH}/lenet-example/apd-e1.json' && '$<TARGET_FILE:apd-stats>' '${APD_SCRATCH}/lenet-example/apd-e1.json' --quiet --out '${APD_SCRATCH}/lenet-example/stats.txt' && grep -Eq ' 3456 +10000 ' '${APD_SCRATCH}/lenet-example/stats.txt' && '$<TARGET_FILE:apd-report>' --apd '${APD_SCRATCH}/lenet-example/apd-e1.json' --out '${APD_SCRATCH}/lenet-example/report.html' --quiet")
  set_tests_properties(extract.lenet_example PROPERTIES LABELS mnist TIMEOUT 300)
  add_test(NAME extract.script_models_end_to_end
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/script_extract_test.sh ${EXTRACT} ${MNIST} ${APD_SCRIPT_DIR}
            ${APD_SCRATCH}/script-extract)
  set_tests_properties(extract.script_models_end_to_end PROPERTIES
    FIXTURES_REQUIRED script_models LABELS mnist TIMEOUT 600)
  add_test(NAME extract.views_against_numpy_merge_and_refusals
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/views_test.sh ${EXTRACT} ${MERGE} ${APD_SCRIPT_DIR} ${RUN}
            ${APD_SCRATCH}/views)
  set_tests_properties(extract.views_against_numpy_merge_and_refusals PROPERTIES
    FIXTURES_REQUIRED "script_models;synthetic_run" TIMEOUT 600)
  # --geometry: every instance's distances against a float64 oracle, their defining property, refusals.
  add_test(NAME extract.geometry_against_float64_oracle
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/geometry_test.sh ${EXTRACT} ${MERGE} ${RUN} ${APD_SCRATCH}/geometry)
  set_tests_properties(extract.geometry_against_float64_oracle PROPERTIES FIXTURES_REQUIRED synthetic_run TIMEOUT 600)
  add_test(NAME extract.figure2_determinism_selection_formats
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/extract_test.sh ${EXTRACT} ${RUN} ${APD_SCRATCH}/extract)
  set_tests_properties(extract.figure2_determinism_selection_formats PROPERTIES FIXTURES_REQUIRED synthetic_run)

  add_test(NAME mnist.python_state_dict_patterns_equal_pytorch_forward_hooks
    COMMAND ${APD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/compare_with_reference.py ${EXTRACT}
            ${CMAKE_SOURCE_DIR}/data/mnist ${SD}/prefixed.pt ${APD_SCRATCH}/compare --split test)
  set_tests_properties(mnist.python_state_dict_patterns_equal_pytorch_forward_hooks PROPERTIES
    FIXTURES_REQUIRED python_state_dicts LABELS mnist)

  apd_expect(extract.help 0 "--epochs" COMMAND ${EXTRACT} --help)
  apd_expect(extract.version 0 "^apd-extract [0-9]+\\.[0-9]+\\.[0-9]+ \\(git" COMMAND ${EXTRACT} --version)
  set(OUT ${APD_SCRATCH}/extract-never-written.json)
  apd_expect(extract.epoch_without_checkpoint 1 "no checkpoint for epoch 7 \\(available: 1, 2, 3, 4, 5\\)" ONE_LINE
    ABSENT ${OUT} FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --epoch 7 --out ${OUT})
  apd_expect(extract.one_missing_epoch_writes_nothing 1 "no checkpoint for epoch 9" ONE_LINE
    ABSENT ${APD_SCRATCH}/e1.json FIXTURES synthetic_run
    COMMAND ${EXTRACT} --run ${RUN} --epochs 1,9 --out ${APD_SCRATCH}/e{epoch}.json)
  apd_expect(extract.bad_epoch_word 2 "--epoch/--epochs: 'first' is not an epoch \\(1 to 1000000\\), a range" ONE_LINE ABSENT ${OUT}
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --epoch first --out ${OUT})
  apd_expect(extract.epoch_range_missing_one 1 "no checkpoint for epoch 6 of the range 1-9:5" ONE_LINE
    ABSENT ${APD_SCRATCH}/r1.json FIXTURES synthetic_run
    COMMAND ${EXTRACT} --run ${RUN} --epochs 1-9:5 --out ${APD_SCRATCH}/r{epoch}.json)
  apd_expect(extract.epoch_range_backwards 2 "--epoch/--epochs: '5-1' ends before it starts" ONE_LINE
    COMMAND ${EXTRACT} --run ${RUN} --epochs 5-1 --out ${APD_SCRATCH}/r{epoch}.json)
  apd_expect(extract.epoch_range_needs_epoch_in_out 2 "--out: with several epochs, the file name needs \\{epoch\\}"
    ONE_LINE COMMAND ${EXTRACT} --run ${RUN} --epochs all --out ${OUT})
  apd_expect(extract.label_absent 1 "--labels: label 7 does not occur in the train split \\(labels present: 0,1,2\\)" ONE_LINE
    ABSENT ${OUT} FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --labels 7 --out ${OUT})
  apd_expect(extract.corrupt_checkpoint 1 "corrupt.pt: not a PyTorch zip checkpoint" ONE_LINE ABSENT ${OUT}
    FIXTURES python_state_dicts COMMAND ${EXTRACT} --checkpoint ${SD}/corrupt.pt --split test --out ${OUT})
  apd_expect(extract.not_an_mlp 1 "key \"1.weight\" has 1 dimension\\(s\\): not a Linear layer's weight" ONE_LINE
    ABSENT ${OUT} FIXTURES python_state_dicts COMMAND ${EXTRACT} --checkpoint ${SD}/not_mlp.pt --data ${MNIST} --split test --out ${OUT})
  apd_expect(extract.weights_do_not_chain 1 "key \"2.weight\" takes 20 inputs but the previous layer \"0.weight\" has 32 outputs"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/unchained.pt --data ${MNIST} --split test --out ${OUT})
  apd_expect(extract.input_size_differs 1 "key \"0.weight\" expects 100 inputs, the data has 64 pixels per image" ONE_LINE
    ABSENT ${OUT} FIXTURES "python_state_dicts;synthetic_data"
    COMMAND ${EXTRACT} --checkpoint ${SD}/wrong_inputs.pt --data ${SYN} --split test --out ${OUT})
  # A stranger's checkpoint: records and pickles that once overflowed the heap or the stack.
  apd_expect(extract.checkpoint_record_not_whole_elements 1
    "odd_storage.pt: archive record data/0 holds [0-9]+ bytes: not a whole number of 4-byte torch FloatStorage elements"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/odd_storage.pt --split test --out ${OUT})
  apd_expect(extract.checkpoint_empty_layer 1 "empty_layer.pt: key \"0.weight\" has shape 0x784: a Linear layer needs"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/empty_layer.pt --data ${MNIST} --split test --out ${OUT})
  apd_expect(extract.checkpoint_compressed 1 "compressed.pt: record data.pkl is compressed or encrypted"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/compressed.pt --split test --out ${OUT})
  apd_expect(extract.checkpoint_bad_crc 1 "bad_crc.pt: cannot read record data/0: CRC error"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/bad_crc.pt --split test --out ${OUT})
  apd_expect(extract.checkpoint_nested_pickle 1 "nested.pt: containers nested deeper than 100 levels: not a state_dict"
    ONE_LINE ABSENT ${OUT} FIXTURES python_state_dicts
    COMMAND ${EXTRACT} --checkpoint ${SD}/nested.pt --split test --out ${OUT})
  apd_expect(extract.missing_checkpoint_file 1 "nope.pt: no such file" ONE_LINE ABSENT ${OUT}
    COMMAND ${EXTRACT} --checkpoint ${APD_SCRATCH}/nope.pt --out ${OUT})
  apd_expect(extract.run_and_checkpoint 2 "excludes" ONE_LINE ABSENT ${OUT}
    COMMAND ${EXTRACT} --run ${RUN} --checkpoint x.pt --out ${OUT})
  apd_expect(extract.no_model_source 2 "give one of --run RUNDIR, --checkpoint FILE or --model FILE.pt" ONE_LINE ABSENT ${OUT}
    COMMAND ${EXTRACT} --out ${OUT})
  apd_expect(extract.several_epochs_need_placeholder 2 "needs \\{epoch\\}" ONE_LINE ABSENT ${OUT}
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --epochs 1,2 --out ${OUT})
  apd_expect(extract.val_needs_run 2 "--split val is the run's own validation split: it needs --run" ONE_LINE ABSENT ${OUT}
    FIXTURES python_state_dicts COMMAND ${EXTRACT} --checkpoint ${SD}/prefixed.pt --split val --out ${OUT})
  apd_expect(extract.limit_negative 2 "--limit: '-1' must not be negative" ONE_LINE ABSENT ${OUT}
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --limit -1 --out ${OUT})
  apd_expect(extract.seed_negative 2 "--seed: '-1' must not be negative" ONE_LINE ABSENT ${OUT}
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --seed -1 --out ${OUT})
  apd_expect(extract.threads_huge 2 "--threads: 10000 exceeds the maximum of 256" ONE_LINE ABSENT ${OUT}
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --threads 10000 --out ${OUT})
  apd_expect(extract.not_a_run 1 "not a run directory" ONE_LINE ABSENT ${OUT} COMMAND ${EXTRACT} --run ${APD_SCRATCH} --out ${OUT})

endif()
