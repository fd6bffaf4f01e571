# msg.cmake -- where the CLI demo finds the shipped example conversations:
# the source tree when run from a build, the data directory once installed.
add_compile_definitions(AM_EXAMPLES_DIR="${PROJECT_SOURCE_DIR}/examples")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/msg
  DESTINATION ${CMAKE_INSTALL_DATADIR}/agentmem/examples)
# Fuzzing builds: instrument the library too (not only the fuzz targets),
# so that libFuzzer sees coverage inside the parsers it feeds.
if(AM_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
