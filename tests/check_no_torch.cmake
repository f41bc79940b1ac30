# Fails when the executable EXE is dynamically linked to any LibTorch library.
execute_process(COMMAND ldd "${EXE}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ldd ${EXE} failed")
endif()
if(out MATCHES "libtorch|libc10")
  message(FATAL_ERROR "${EXE} links LibTorch:\n${out}")
endif()
message(STATUS "${EXE}: no LibTorch among its libraries")
