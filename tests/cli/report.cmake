# apd-report: torch-free; the page in headless Chromium, and its errors.
# apd-report: the page in a real (headless, Debian) Chromium, and its errors.
add_test(NAME report.no_libtorch_in_apd_report
  COMMAND ${CMAKE_COMMAND} -DEXE=${REPORT} -P ${CMAKE_CURRENT_SOURCE_DIR}/check_no_torch.cmake)
apd_expect(report.help 0 "--max-nodes" COMMAND ${REPORT} --help)
apd_expect(report.version 0 "^apd-report [0-9]+\\.[0-9]+\\.[0-9]+ \\(git" COMMAND ${REPORT} --version)
# An APD of 0 instances is valid (apd-stats reads it); it once crashed apd-report.
file(WRITE ${APD_SCRATCH}/zero-instances.json
  "{\"schema\":\"apd/1\",\"graph\":{\"widths\":[3,2],\"instances\":0,\"errors\":0},\"nodes\":[],\"links\":[],\"instances\":[]}\n")
apd_expect(report.apd_of_zero_instances 0 "wrote .*zero-instances.html"
  COMMAND ${REPORT} --apd ${APD_SCRATCH}/zero-instances.json --out ${APD_SCRATCH}/zero-instances.html)
apd_expect(stats.apd_of_zero_instances 0 "zero-instances.json +n/a +1 +3 +0 +0"
  COMMAND ${STATS} ${APD_SCRATCH}/zero-instances.json --table layers)
apd_expect(report.max_nodes_negative 2 "--max-nodes: Value -5 not in range 2 to" ONE_LINE
  COMMAND ${REPORT} --apd x.json --max-nodes -5 --out ${APD_SCRATCH}/never.html)
apd_expect(report.nothing_to_show 2 "give --run RUNDIR, --apd FILE..., --monitor SCORES.json, or several of them" ONE_LINE
  COMMAND ${REPORT} --out ${APD_SCRATCH}/r.html)
if(APD_BUILD_TORCH)
  set(RP ${APD_SCRATCH}/report)
  add_test(NAME report.renders_in_headless_chromium
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/report_test.sh ${REPORT} ${EXTRACT} $<TARGET_FILE:apd-monitor> ${RUN} ${RP}
            ${CMAKE_CURRENT_SOURCE_DIR}/browser ${CMAKE_BINARY_DIR}/report-screenshots)
  set_tests_properties(report.renders_in_headless_chromium PROPERTIES FIXTURES_REQUIRED synthetic_run
    FIXTURES_SETUP report_files)
  apd_expect(report.apd_from_another_run_warns 0 "warning: .*other-run.json: extracted from .* not from the report's run"
    FIXTURES report_files COMMAND ${REPORT} --run ${RUN} --apd ${RP}/other-run.json --out ${RP}/warned.html)
  apd_expect(report.files_of_different_depth 1 "1 hidden layers, but .* has 2: all files of a report must share the depth"
    ONE_LINE ABSENT ${RP}/never.html FIXTURES report_files
    COMMAND ${REPORT} --run ${RUN} --apd ${RP}/apd-e5.json ${RP}/shallow.json --out ${RP}/never.html)
  apd_expect(report.monitor_not_scores 1 "monitor.json: the top level: .monitor. is missing" ONE_LINE ABSENT ${RP}/never.html
    FIXTURES report_files COMMAND ${REPORT} --monitor ${RP}/monitor.json --out ${RP}/never.html)
  # Galleries: the dataset an APD names, found again with --images, checked by its SHA-256.
  apd_expect(report.dataset_moved 1
    "moved.json: its dataset /nonexistent/moved-data/[a-z0-9-]+: no such file \\(--images PATH when it moved" ONE_LINE
    ABSENT ${RP}/never.html FIXTURES report_files COMMAND ${REPORT} --apd ${RP}/moved.json --out ${RP}/never.html)
  apd_expect(report.images_finds_moved_dataset 0 "wrote .*moved.html" FIXTURES report_files
    COMMAND ${REPORT} --apd ${RP}/moved.json --images ${SYN} --out ${RP}/moved.html)
  apd_expect(report.dataset_changed 1
    "changed-data/[a-z0-9-]+: SHA-256 [0-9a-f]+\\.\\.\\. differs from the [0-9a-f]+\\.\\.\\. the APD recorded: not the data it was extracted from"
    ONE_LINE ABSENT ${RP}/never.html FIXTURES report_files
    COMMAND ${REPORT} --apd ${RP}/moved.json --images ${RP}/changed-data --out ${RP}/never.html)
  apd_expect(report.no_images_needs_no_dataset 0 "wrote .*no-images.html" FIXTURES report_files
    COMMAND ${REPORT} --apd ${RP}/moved.json --no-images --out ${RP}/no-images.html)
  add_test(NAME report.galleries_on_mnist_idx
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gallery_mnist_test.sh ${EXTRACT} ${REPORT} ${MNIST} ${APD_SCRIPT_DIR}
            ${APD_SCRATCH}/gallery-mnist ${CMAKE_CURRENT_SOURCE_DIR}/browser ${CMAKE_BINARY_DIR}/report-screenshots)
  set_tests_properties(report.galleries_on_mnist_idx PROPERTIES LABELS mnist FIXTURES_REQUIRED script_models)
  apd_expect(report.run_without_metrics 1 "the run has no metrics.jsonl" ONE_LINE ABSENT ${RP}/never.html
    FIXTURES report_files COMMAND ${REPORT} --run ${RP}/no-metrics --apd ${RP}/apd-e5.json --out ${RP}/never.html)
endif()
apd_expect(report.images_excludes_no_images 2 "--images excludes --no-images" ONE_LINE
  COMMAND ${REPORT} --apd x.json --images d --no-images --out ${APD_SCRATCH}/never.html)
# A --title that is not UTF-8 cannot be written into the page's JSON: an option error.
apd_expect(report.title_not_utf8 2 "--title: not valid UTF-8 text" ONE_LINE ABSENT ${APD_SCRATCH}/never.html
  COMMAND bash -c "exec \"$0\" --apd \"$1\" --out \"$2\" --title \"$(printf 'r\\351sum\\351')\""
          ${REPORT} ${APD_SCRATCH}/zero-instances.json ${APD_SCRATCH}/never.html)
