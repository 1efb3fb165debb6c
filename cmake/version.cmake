# Writes OUTPUT, a header with mig's version and the commit it is built
# from, run at every build (`cmake -P`). The file changes only when the
# commit does, so nothing is recompiled otherwise. Outside a git checkout
# (a release tarball), the commit is MIG_COMMIT if given, else empty.
set(commit "${MIG_COMMIT}")
if(NOT commit)
  execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
    OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
  if(failed)
    set(commit "")
  else()
    execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD --
      RESULT_VARIABLE dirty ERROR_QUIET)
    if(dirty)
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()
file(CONFIGURE OUTPUT "${OUTPUT}" @ONLY CONTENT [=[
#pragma once
#define MIG_VERSION "@VERSION@"
#define MIG_COMMIT "@commit@"
]=])
