// RunIoLoop: handlers run whether the thread polls or sleeps, and the loop ends when its
// io_context is stopped or runs out of work, polling or not.
#include "server/io_loop.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <utility>  // before Boost.Asio, which uses std::exchange without it

#include <boost/asio.hpp>

#include "gtest/gtest.h"

namespace proximadb::server {
namespace {

namespace asio = boost::asio;
using std::chrono::microseconds;

class IoLoopTest : public ::testing::TestWithParam<int> {};  // the window, microseconds

TEST_P(IoLoopTest, RunsPostedWorkAndEndsWhenStopped) {
  asio::io_context ioc(1);
  auto work = asio::make_work_guard(ioc);
  std::thread loop([&] { RunIoLoop(ioc, microseconds(GetParam())); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      ++ran;
      done.set_value();
    });
    done.get_future().wait();  // posted from outside, as the worker pools do
    if (i % 10 == 0) std::this_thread::sleep_for(microseconds(2 * GetParam() + 100));
  }
  EXPECT_EQ(ran.load(), 100);
  ioc.stop();  // must end a loop that polls as well as one that sleeps
  loop.join();
}

TEST_P(IoLoopTest, EndsWhenOutOfWork) {
  asio::io_context ioc(1);
  int ran = 0;
  asio::post(ioc, [&] { ++ran; });
  RunIoLoop(ioc, microseconds(GetParam()));  // returns: nothing more can happen
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(ioc.stopped());
}

INSTANTIATE_TEST_SUITE_P(Windows, IoLoopTest, ::testing::Values(0, 500, 10000));

}  // namespace
}  // namespace proximadb::server
