# Writes OUT: the version and the commit of the tree being built, for
# --version. Run at every build (a target, not configure time), so the commit
# is the one built; OUT changes only when they do, so only what includes it
# recompiles.
#   cmake -DSOURCE_DIR=... -DOUT=... -DVERSION=... -P version.cmake
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND NOT changes STREQUAL "")
    set(commit "${commit}-modified")
  endif()
endif()
set(text "#pragma once\n#define RAPPEL_VERSION \"${VERSION}\"\n#define RAPPEL_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
