// Resources a client can exhaust, and last words: the connection limit answers 503 at once; a
// server out of descriptors says so once and backs off instead of spinning a core; a process
// killed by a fatal signal narrates it before it dies.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "security_support.hpp"

namespace llorch::testing {
namespace {

using namespace std::chrono_literals;

// Connections that only connect (no request), closed when it goes.
struct IdleConnections {
  IdleConnections(const std::string& url, int count) {
    const auto where = net::parse_url(url);
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) break;
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(where.port);
      ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        break;
      }
      fds.push_back(fd);
    }
  }
  ~IdleConnections() {
    for (int fd : fds) ::close(fd);
  }
  std::vector<int> fds;
};

// User plus system CPU time of a process, in clock ticks.
long cpu_ticks(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

TEST(Resources, OverTheConnectionLimitANewConnectionGets503AtOnce) {
  WorkerProcess worker({"--model", model_path()});
  {
    IdleConnections idle(worker.url(), 520);
    ASSERT_EQ(idle.fds.size(), 520u);
    std::this_thread::sleep_for(300ms);  // let the server accept them all
    const auto answer = request("GET", worker.url() + "/health", "", {}, 5s);
    EXPECT_EQ(answer.status, 503u) << answer.body;
    EXPECT_NE(answer.body.find("TOO_MANY_CONNECTIONS"), std::string::npos) << answer.body;
    EXPECT_TRUE(worker.wait_for_action("server_overloaded", 2s));
  }
  // Once they are gone the server answers again.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  unsigned status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    status = request("GET", worker.url() + "/health").status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200u);
}

TEST(Resources, OutOfDescriptorsTheAcceptLoopSaysSoOnceAndBacksOff) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers need descriptors of their own (UBSan probes memory through a pipe before each
  // vptr check): starved, they report every virtual call and stop the process. The release run
  // covers this test.
  GTEST_SKIP() << "a sanitizer out of descriptors stops the process itself";
#endif
  // The worker inherits a soft limit of 48 descriptors; this process gets its own back at once.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 48;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::unique_ptr<WorkerProcess> worker;
  try {
    worker = std::make_unique<WorkerProcess>(std::vector<std::string>{"--model", model_path()});
  } catch (...) {
    ::setrlimit(RLIMIT_NOFILE, &saved);
    throw;
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_FALSE(worker->url().empty());
  {
    IdleConnections idle(worker->url(), 80);
    ASSERT_TRUE(worker->wait_for_event(
        [](const narration::Event& e) {
          return e.action == "server_overloaded" && e.human.find("Cannot accept") == 0;
        },
        5s));
    const long before = cpu_ticks(worker->pid());
    std::this_thread::sleep_for(1s);
    const long spent = cpu_ticks(worker->pid()) - before;
    EXPECT_LT(spent, ::sysconf(_SC_CLK_TCK) / 4) << "the accept loop spins";
    int starved = 0;
    for (const auto& e : worker->events())
      starved += e.action == "server_overloaded" && e.human.find("Cannot accept") == 0;
    EXPECT_EQ(starved, 1) << "narrated once, not once per retry";
  }
  EXPECT_TRUE(worker->wait_for_event(
      [](const narration::Event& e) { return e.human.find("Accepting connections") == 0; }, 5s));
  EXPECT_EQ(request("GET", worker->url() + "/health").status, 200u);
}

TEST(Resources, AFatalSignalIsNarratedBeforeTheProcessDies) {
  WorkerProcess worker({"--model", model_path()});
  worker.signal(SIGSEGV);
  worker.wait_exit(10s);
  const auto fatal = worker.wait_for_event(
      [](const narration::Event& e) { return e.action == "fatal_error"; }, 5s);
  ASSERT_TRUE(fatal);
  EXPECT_NE(fatal->human.find("SIGSEGV"), std::string::npos) << fatal->human;
  EXPECT_EQ(fatal->level, narration::Level::fatal);
}

}  // namespace
}  // namespace llorch::testing
