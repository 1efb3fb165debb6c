// mig: a thin command line over the compiler and the runtime. The command
// line is defined in command_line.cpp; each command lives in its own file.
#include <malloc.h>

#include "cli/command_line.h"

int main(int argc, char** argv) {
  // The compiler allocates and frees millions of small objects (tokens,
  // parse trees, JSON) in large batches; without fast bins glibc does not
  // stop to consolidate them, which makes large plans compile ~15% faster.
  mallopt(M_MXFAST, 0);
  mig::cli::CommandLine commandLine;
  return commandLine.run(argc, argv);
}
