# apd-train: checkpoints PyTorch loads, run directories, dynamics against PyTorch,
# resuming after kill -9, and every bad option or dataset (tests/CMakeLists.txt
# defines TRAIN, SYN and the fixtures).
if(APD_BUILD_TORCH)
  add_test(NAME python.torch_load_opens_checkpoint_and_reproduces_val_loss
    COMMAND ${APD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/check_checkpoint.py ${APD_SCRATCH}/synthetic-run 5)
  set_tests_properties(python.torch_load_opens_checkpoint_and_reproduces_val_loss PROPERTIES FIXTURES_REQUIRED synthetic_run)

  add_test(NAME train.run_directory_resumable_or_restartable_one_writer
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_dir_test.sh ${TRAIN} ${SYN} ${APD_SCRATCH}/synthetic-run ${APD_SCRATCH}/run-dirs)
  set_tests_properties(train.run_directory_resumable_or_restartable_one_writer PROPERTIES
    FIXTURES_REQUIRED "synthetic_run;synthetic_data")
  add_test(NAME mnist.train_dynamics_forgetting_and_corruption_agree_with_pytorch
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/dynamics_test.sh ${TRAIN} $<TARGET_FILE:apd-stats>
            ${CMAKE_SOURCE_DIR}/data/mnist ${APD_PYTHON} ${APD_SCRATCH}/dynamics)
  set_tests_properties(mnist.train_dynamics_forgetting_and_corruption_agree_with_pytorch PROPERTIES
    LABELS mnist TIMEOUT 600)
  add_test(NAME train.resume_after_kill9_and_sigterm_is_byte_identical
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/resume_test.sh ${TRAIN} $<TARGET_FILE:apd_make_fixture> ${APD_SCRATCH}/resume)

  # --help, --version and every bad input: exit code, one-line message, nothing written.
  apd_expect(train.help 0 "--hidden" COMMAND ${TRAIN} --help)
  apd_expect(train.version 0 "^apd-train [0-9]+\\.[0-9]+\\.[0-9]+ \\(git [0-9a-f]+" COMMAND ${TRAIN} --version)
  set(NEW ${APD_SCRATCH}/never-created)
  apd_expect(train.missing_out 2 "--out is required" ONE_LINE COMMAND ${TRAIN} --data ${SYN})
  apd_expect(train.corrupt_labels_out_of_range 2 "--corrupt-labels: 1.5 is outside \\[0, 1\\]" ONE_LINE ABSENT ${NEW}
    COMMAND ${TRAIN} --data ${SYN} --corrupt-labels 1.5 --out ${NEW})
  apd_expect(train.corrupt_seed_without_labels 2 "--corrupt-seed: needs --corrupt-labels P" ONE_LINE ABSENT ${NEW}
    COMMAND ${TRAIN} --data ${SYN} --corrupt-seed 3 --out ${NEW})
  apd_expect(train.resume_with_other_corruption 2 "--resume: --corrupt-labels 0.5 contradicts run.json \\(0.0\\)" ONE_LINE
    FIXTURES synthetic_run COMMAND ${TRAIN} --out ${APD_SCRATCH}/synthetic-run --resume --corrupt-labels 0.5)
  apd_expect(train.missing_dataset 1 "/nonexistent/mnist: not a directory" ONE_LINE ABSENT ${NEW}
    COMMAND ${TRAIN} --data /nonexistent/mnist --out ${NEW})
  apd_expect(train.corrupt_dataset 1 "train-labels-idx1-ubyte: header says 100 labels, file holds 99" ONE_LINE ABSENT ${NEW}
    FIXTURES synthetic_data COMMAND ${TRAIN} --data ${APD_SCRATCH}/corrupt --out ${NEW})
  foreach(bad IN ITEMS "zero:0" "negative:40,-1" "empty:" "letters:forty")
    string(REPLACE ":" ";" parts "${bad}")
    list(GET parts 0 what)
    list(LENGTH parts n)
    if(n GREATER 1)
      list(GET parts 1 value)
    else()
      set(value "")
    endif()
    apd_expect(train.hidden_${what} 2 "--hidden" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --hidden "${value}")
  endforeach()
  apd_expect(train.lr_zero 2 "--lr: 0 must be > 0" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --lr 0)
  apd_expect(train.lr_negative 2 "--lr: -0.1 must be > 0" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --lr=-0.1)
  apd_expect(train.epochs_zero 2 "--epochs: 0 must be at least 1" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --epochs 0)
  apd_expect(train.val_split_zero 2 "--val-split: 0 is outside \\(0, 1\\)" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --val-split 0)
  apd_expect(train.val_split_one 2 "--val-split: 1 is outside \\(0, 1\\)" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --val-split 1)
  apd_expect(train.batch_size_zero 2 "--batch-size: 0 must be at least 1" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --batch-size 0)
  # A label byte of 200 among digits: corruption, not a 201st class.
  set(BAD_LABELS ${APD_SCRATCH}/label-200)
  add_test(NAME fixture.label_200
    COMMAND bash -c "rm -rf '${BAD_LABELS}' && cp -r '${SYN}' '${BAD_LABELS}' && printf '\\310' | dd of='${BAD_LABELS}/train-labels-idx1-ubyte' bs=1 seek=8 conv=notrunc 2>/dev/null")
  set_tests_properties(fixture.label_200 PROPERTIES FIXTURES_SETUP label_200 FIXTURES_REQUIRED synthetic_data)
  apd_expect(train.label_far_beyond_the_others 1
    "train-labels-idx1-ubyte: labels reach 200 but take only 4 distinct values: a corrupt label file\\? \\(--classes 201"
    ONE_LINE ABSENT ${NEW} FIXTURES label_200 COMMAND ${TRAIN} --data ${BAD_LABELS} --out ${NEW})
  apd_expect(train.label_outside_classes 1 "train-labels-idx1-ubyte: label 200 is outside 0..2 \\(--classes 3\\)"
    ONE_LINE ABSENT ${NEW} FIXTURES label_200 COMMAND ${TRAIN} --data ${BAD_LABELS} --out ${NEW} --classes 3)
  apd_expect(train.threads_huge 2 "--threads: 10000 exceeds the maximum of 256" ONE_LINE ABSENT ${NEW}
    FIXTURES synthetic_data COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --threads 10000)
  apd_expect(train.batch_size_huge 2 "--batch-size: 10000000 exceeds the maximum of 1048576" ONE_LINE ABSENT ${NEW}
    FIXTURES synthetic_data COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --batch-size 10000000)
  apd_expect(train.hidden_huge 2 "--hidden: layer width 100000000 exceeds the maximum of 65536" ONE_LINE ABSENT ${NEW}
    FIXTURES synthetic_data COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --hidden 100000000)
  apd_expect(train.seed_negative 2 "--seed: '-1' must not be negative" ONE_LINE ABSENT ${NEW}
    COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --seed -1)
  apd_expect(train.bad_normalize 2 "--normalize" ONE_LINE ABSENT ${NEW} COMMAND ${TRAIN} --data ${SYN} --out ${NEW} --normalize zscore)
  apd_expect(train.refuses_to_overwrite_a_run 2 "exists and is not empty. a run is never overwritten" ONE_LINE
    UNCHANGED ${APD_SCRATCH}/synthetic-run FIXTURES synthetic_run
    COMMAND ${TRAIN} --data ${SYN} --out ${APD_SCRATCH}/synthetic-run)
  apd_expect(train.resume_contradiction 2 "--resume: --lr 0.5 contradicts run.json \\(0.05\\)" ONE_LINE
    UNCHANGED ${APD_SCRATCH}/synthetic-run FIXTURES synthetic_run
    COMMAND ${TRAIN} --out ${APD_SCRATCH}/synthetic-run --resume --lr 0.5)
  apd_expect(train.resume_not_a_run 1 "not a run directory \\(no run.json" ONE_LINE
    COMMAND ${TRAIN} --out ${APD_SCRATCH} --resume)
  set_tests_properties(train.missing_dataset train.hidden_zero train.hidden_negative train.hidden_empty
    train.hidden_letters train.lr_zero train.lr_negative train.epochs_zero train.val_split_zero train.val_split_one
    train.batch_size_zero train.bad_normalize PROPERTIES FIXTURES_REQUIRED synthetic_data)
endif()
