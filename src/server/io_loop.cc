#include "server/io_loop.h"

#include <boost/asio/io_context.hpp>

namespace proximadb::server {

void RunIoLoop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll) {
  if (busy_poll <= std::chrono::microseconds::zero()) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  auto last = Clock::now();
  while (!ioc.stopped()) {
    if (ioc.poll() > 0) {
      last = Clock::now();
    } else if (Clock::now() - last >= busy_poll) {
      ioc.run_one();  // sleeps until something happens
      last = Clock::now();
    }
  }
}

}  // namespace proximadb::server
