#include <csignal>

#include "cli/commands.h"
#include "cli/lsp/server.h"

namespace mig::cli {

int lspCommand() {
  // A client that goes away must end the server with an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  lsp::Transport transport(0, 1);
  lsp::Server server(transport);
  return server.run();
}

}  // namespace mig::cli
