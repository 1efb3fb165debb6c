#include <iostream>

#include "cli/commands.h"
#include "runtime/drivers/driver.h"

namespace mig::cli {

int driverCommand(const std::vector<std::string>& args) {
  return drivers::runDriver(args, std::cout, std::cerr);
}

}  // namespace mig::cli
