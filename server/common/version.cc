#include <string>
#include <string_view>

#include "rappel_version.h"  // generated (cmake/version.cmake)
#include "server/common/program.h"

namespace rappel {

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " RAPPEL_VERSION " (commit " RAPPEL_COMMIT ")";
}

}  // namespace rappel
