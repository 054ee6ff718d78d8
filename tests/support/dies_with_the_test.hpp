// For a process a test starts: it gets SIGKILL when the test process dies, whatever kills it
// (ctest's timeout, a crash), so no orchestrator, worker or NATS server outlives a test that
// never reached its clean-up, holding ports and confusing the tests after it. Pass it to
// boost::process::child. (The signal follows the thread that started the child: start children
// on the test's own thread.)
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/extend.hpp>

namespace llorch::testing {

struct DiesWithTheTest : boost::process::extend::handler {
  pid_t parent = ::getpid();
  template <class Executor>
  void on_exec_setup(Executor&) const {  // between fork and exec: async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before prctl took effect
  }
};

}  // namespace llorch::testing
