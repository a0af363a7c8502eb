# Writes OUT (generated/build_info.h) with the commit the binary is built
# from, for `agenttrace --version`. Run at every build; the file is rewritten
# only when its text changes, so an unchanged commit recompiles nothing.
# Without git or outside a checkout (a source tarball) the commit is empty.
set(commit "")
find_program(GIT git)
if(GIT)
  execute_process(COMMAND ${GIT} -c safe.directory=* -C ${SRC} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    set(commit "")
  else()
    # Tracked files changed since that commit: the binary is not the commit.
    execute_process(COMMAND ${GIT} -c safe.directory=* -C ${SRC} status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0 AND NOT changes STREQUAL "")
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()
set(text "#pragma once\n#define AGENTTRACE_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
