// Request ids: each REST request and gRPC call answers one (`X-Request-Id`, gRPC initial
// metadata `x-request-id`) and its log line names it, so that a client's report and the
// server's log meet. A client may choose it by sending one.
#pragma once

#include <string>
#include <string_view>

namespace proximadb::server {

// `given` (the client's) if it is 1-128 of A-Z a-z 0-9 . _ : / + = -, else 16 new random hex
// digits.
std::string RequestId(std::string_view given);

}  // namespace proximadb::server
