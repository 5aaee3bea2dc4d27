# ctest_entries.cmake - included by build/tests/CTestTestfile.cmake when ctest starts (through
# <kind>_entries.cmake, which sets RUNNER, KIND and TIMEOUT): one ctest entry KIND.ENTRY for
# every line of `RUNNER --list`, run as `RUNNER ENTRY`. Exit 77 is Skipped.

if(NOT EXISTS "${RUNNER}")
  # not built yet: one entry that fails and says so, rather than no entry at all
  add_test(${KIND}.not-built "${RUNNER}")
  return()
endif()
execute_process(COMMAND "${RUNNER}" --list
                OUTPUT_VARIABLE entries ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  # a test file's constructor refused (an unknown need...): an entry that fails with its words
  add_test(${KIND}.list "${RUNNER}" --list)
  return()
endif()
string(REPLACE "\n" ";" entries "${entries}")
foreach(entry IN LISTS entries)
  if(entry STREQUAL "")
    continue()
  endif()
  add_test(${KIND}.${entry} "${RUNNER}" ${entry})
  set_tests_properties(${KIND}.${entry} PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT ${TIMEOUT} LABELS ${KIND})
endforeach()
