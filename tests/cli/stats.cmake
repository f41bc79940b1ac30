# apd-stats: torch-free; its tables and formats, and every bad file or option.
add_test(NAME stats.no_libtorch_in_apd_stats
  COMMAND ${CMAKE_COMMAND} -DEXE=${STATS} -P ${CMAKE_CURRENT_SOURCE_DIR}/check_no_torch.cmake)
apd_expect(stats.help 0 "--flow-layers" COMMAND ${STATS} --help)
apd_expect(stats.version 0 "^apd-stats [0-9]+\\.[0-9]+\\.[0-9]+ \\(git" COMMAND ${STATS} --version)
apd_expect(stats.nothing_to_read 2 "give APD files, or --run RUNDIR" ONE_LINE COMMAND ${STATS})
apd_expect(stats.missing_file 1 "nope.json: cannot open" ONE_LINE COMMAND ${STATS} ${APD_SCRATCH}/nope.json)
if(APD_BUILD_TORCH)
  set(ST ${APD_SCRATCH}/stats)
  add_test(NAME stats.tables_formats_and_run
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/stats_test.sh ${STATS} ${EXTRACT} ${RUN} ${ST})
  set_tests_properties(stats.tables_formats_and_run PROPERTIES FIXTURES_REQUIRED synthetic_run FIXTURES_SETUP stats_files)
  add_test(NAME stats.series_of_files_gives_the_runs_numbers
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/series_test.sh $<TARGET_FILE_DIR:apd-stats> ${APD_PYTHON} ${RUN}
            ${APD_SCRIPT_DIR} ${APD_SCRATCH}/series)
  set_tests_properties(stats.series_of_files_gives_the_runs_numbers PROPERTIES
    FIXTURES_REQUIRED "synthetic_run;script_models")
  apd_expect(stats.not_an_apd_file 1 "notapd.json: not an APD file \\(no \"schema\" string" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/notapd.json)
  apd_expect(stats.run_json_is_not_an_apd 1 "run.json: is an apd-train run.json, not an APD file" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/run.json)
  apd_expect(stats.unknown_schema 1 "schema \"apd/9\" is not understood \\(this apd reads: apd/1, apd/2\\)" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/schema9.json)
  apd_expect(stats.flows_without_instances 1 "lean.json: flows need per-instance records.*rerun apd-extract without --no-instances"
    ONE_LINE FIXTURES stats_files COMMAND ${STATS} ${ST}/lean.json --table flows)
  apd_expect(stats.flow_layers_outside 2 "--flow-layers: flow layer 3 is outside 1..2" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --flow-layers 2,3)
  apd_expect(stats.csv_needs_one_table 2 "--format csv writes one table" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --format csv)
  apd_expect(stats.regions_without_geometry 1 "apd-e5.json: no region_radius or boundary_distance in its instance records \\(extract it with apd-extract --geometry\\)"
    ONE_LINE FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --table regions)
  apd_expect(stats.bad_table 2 "--table: 'nodes' is not layers, flows, bins, errors, clusters, members, corruption, regions, region_correlations, epochs, forgetting, forgetting_summary or forgetting_histogram" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --table nodes)
  apd_expect(stats.run_without_metrics 1 "not a run directory" ONE_LINE COMMAND ${STATS} --run ${APD_SCRATCH})
  # Option values outside their documented ranges (issue: they wrapped, hung or wrote out of bounds).
  apd_expect(stats.top_negative 2 "--top: '-1' must not be negative" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --top -1)
  apd_expect(stats.purity_bins_huge 2 "--purity-bins: 9223372036854775808 is outside 1..1000" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --purity-bins 9223372036854775808)
  apd_expect(stats.strength_base_near_one 2 "--strength-base: 1.0000000000000002 is outside \\[1.01, 1000000\\]" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --strength-base 1.0000000000000002)
  apd_expect(stats.verbose_times_each_stage 0 "debug: read .*apd-e5.json \\([0-9.]+ MB\\): [0-9]+ nodes.* in [0-9.]+ s"
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --table layers --verbose --out ${ST}/verbose.txt)
  apd_expect(stats.quiet_and_verbose_exclude 2 "--quiet excludes --verbose|--verbose excludes --quiet" ONE_LINE
    FIXTURES stats_files COMMAND ${STATS} ${ST}/apd-e5.json --quiet --verbose)
endif()
