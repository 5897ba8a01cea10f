// RunIoLoop: how a REST I/O thread runs its event loop, sleeping in epoll between events or,
// with a busy-poll window, polling for a while after each before it sleeps.
#pragma once

#include <chrono>

namespace boost::asio {
class io_context;  // Boost stays in the .cc files
}

namespace proximadb::server {

// Runs `ioc` until it is stopped or runs out of work. With `busy_poll` > 0, after the last
// handler it keeps polling (epoll with a zero timeout) for that long before blocking: a request
// that arrives meanwhile is served without the thread's wake-up, which costs tens of
// microseconds on a VM, at the price of a core kept busy for the window.
void RunIoLoop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll);

}  // namespace proximadb::server
