// Checks of a collection's name and settings, for creates, changes and restores.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace proximadb {

// 1-64 letters, digits, '_' or '-', starting with a letter or digit; kInvalidArgument naming
// the rule otherwise.
absl::Status ValidateName(std::string_view name);

}  // namespace proximadb
