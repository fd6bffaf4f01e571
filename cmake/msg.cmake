# msg.cmake -- where the CLI demo finds the shipped example conversations:
# the source tree when run from a build, the data directory once installed.
add_compile_definitions(AM_EXAMPLES_DIR="${PROJECT_SOURCE_DIR}/examples")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/msg
  DESTINATION ${CMAKE_INSTALL_DATADIR}/agentmem/examples)
