# apd-merge and apd-extract --shard: torch-free merging, byte-identical to one
# process, on processes and on a real Slurm.
# apd-merge: sharded extraction merged byte for byte; torch-free.
add_test(NAME merge.no_libtorch_in_apd_merge
  COMMAND ${CMAKE_COMMAND} -DEXE=${MERGE} -P ${CMAKE_CURRENT_SOURCE_DIR}/check_no_torch.cmake)
apd_expect(merge.help 0 "--pattern-encoding" COMMAND ${MERGE} --help)
apd_expect(merge.version 0 "^apd-merge [0-9]+\\.[0-9]+\\.[0-9]+ \\(git" COMMAND ${MERGE} --version)
apd_expect(merge.missing_out 2 "--out is required" ONE_LINE COMMAND ${MERGE} a.json)
apd_expect(merge.no_files 2 "files is required" ONE_LINE COMMAND ${MERGE} --out ${APD_SCRATCH}/never.json)
apd_expect(merge.missing_file 1 "nope.json: cannot open" ONE_LINE ABSENT ${APD_SCRATCH}/never.json
  COMMAND ${MERGE} ${APD_SCRATCH}/nope.json --out ${APD_SCRATCH}/never.json)
if(APD_BUILD_TORCH)
  add_test(NAME mnist.shards_1_3_7_merged_equal_one_process
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/shard_test.sh ${TRAIN} ${EXTRACT} ${MERGE} ${SYN}
            ${CMAKE_SOURCE_DIR}/data/mnist ${APD_SCRIPT_DIR} ${APD_SCRATCH}/shards)
  set_tests_properties(mnist.shards_1_3_7_merged_equal_one_process PROPERTIES
    LABELS mnist FIXTURES_REQUIRED "script_models;synthetic_data" TIMEOUT 600)
  add_test(NAME shards.rows_batched_as_in_one_process
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/shard_rounding_test.sh ${EXTRACT} ${MERGE}
            $<TARGET_FILE:apd_make_fixture> ${APD_PYTHON} ${APD_SCRATCH}/shard-rounding)
  # 1,000,000 instances: float batching, not memory safety (scripts/asan.sh skips the label).
  set_tests_properties(shards.rows_batched_as_in_one_process PROPERTIES LABELS large)
  add_test(NAME hostile.fifo_device_inputs_planted_temporaries_output_over_input
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hostile_files_test.sh $<TARGET_FILE_DIR:apd-extract> ${APD_SCRIPT_DIR}
            ${RUN} ${APD_SCRATCH}/hostile)
  set_tests_properties(hostile.fifo_device_inputs_planted_temporaries_output_over_input PROPERTIES
    FIXTURES_REQUIRED "script_models;synthetic_run" TIMEOUT 600)
  add_test(NAME hostile.gigabyte_inputs_wide_instances_bounded_memory
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bounded_memory_test.sh $<TARGET_FILE_DIR:apd-extract> ${APD_PYTHON}
            ${RUN} ${APD_SCRATCH}/bounded-memory)
  # Peak RSS is measured: under ASan it would be the sanitizer's (scripts/asan.sh skips "large").
  set_tests_properties(hostile.gigabyte_inputs_wide_instances_bounded_memory PROPERTIES
    LABELS large FIXTURES_REQUIRED synthetic_run TIMEOUT 300)
  # A real one-node Slurm (slurm-wlm, munge) started and stopped by the test.
  add_test(NAME slurm.array_job_then_merge_equals_one_process
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm_test.sh ${EXTRACT} ${MERGE} ${RUN} ${APD_SCRATCH}/slurm)
  set_tests_properties(slurm.array_job_then_merge_equals_one_process PROPERTIES
    LABELS slurm FIXTURES_REQUIRED synthetic_run)
  apd_expect(extract.shard_not_i_of_n 2 "--shard: '3/3': I must be in 0..N-1" ONE_LINE ABSENT ${APD_SCRATCH}/never.json
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --shard 3/3 --out ${APD_SCRATCH}/never.json)
  apd_expect(extract.shard_malformed 2 "--shard: '1-3' is not I/N" ONE_LINE ABSENT ${APD_SCRATCH}/never.json
    FIXTURES synthetic_run COMMAND ${EXTRACT} --run ${RUN} --shard 1-3 --out ${APD_SCRATCH}/never.json)
  apd_expect(extract.shards_more_than_instances 2 "--shard 0/50: the selection holds 10 instances" ONE_LINE
    ABSENT ${APD_SCRATCH}/never.json FIXTURES synthetic_run
    COMMAND ${EXTRACT} --run ${RUN} --limit 10 --shard 0/50 --out ${APD_SCRATCH}/never.json)
endif()
