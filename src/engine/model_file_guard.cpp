#include "engine/model_file_guard.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

namespace llorch::engine {

namespace {

struct Range {
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};
};

std::array<Range, 16> g_ranges;
std::atomic<int> g_change{0};  // 0: none; 1: SIGBUS in a mapping; 2: written; 3: replaced
struct sigaction g_previous {};
std::once_flag g_installed;

void pass_on(int signal, siginfo_t* info, void* context) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(signal, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
      g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(signal);
    return;
  }
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(signal, &fallback, nullptr);
  ::raise(signal);
}

// Async-signal-safe: atomics and mmap only.
void on_sigbus(int signal, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (auto& r : g_ranges) {
    const std::uintptr_t begin = r.begin.load(std::memory_order_acquire);
    const std::uintptr_t end = r.end.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= end) continue;
    // Past the file's new end: replace the rest of the mapping with zero pages so that the
    // faulting read (and every later one) completes; the results are garbage, and the worker
    // ends the stream with an error before any of it is trusted.
    const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t from = address & ~(page - 1);
    void* replaced = ::mmap(reinterpret_cast<void*>(from), end - from, PROT_READ,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (replaced == MAP_FAILED) break;
    int expected = 0;
    g_change.compare_exchange_strong(expected, 1);
    return;
  }
  pass_on(signal, info, context);
}

void install_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ::sigaction(SIGBUS, &action, &g_previous);
}

}  // namespace

void protect_mapping(const void* data, std::size_t size) noexcept {
  if (data == nullptr || size == 0) return;
  std::call_once(g_installed, install_handler);
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  for (auto& r : g_ranges) {
    std::uintptr_t empty = 0;
    if (r.begin.load() == 0 && r.end.load() == 0) {
      r.end.store(begin + size, std::memory_order_release);
      if (r.begin.compare_exchange_strong(empty, begin, std::memory_order_acq_rel)) return;
      r.end.store(0);
    }
  }
}

void unprotect_mapping(const void* data) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  for (auto& r : g_ranges) {
    if (r.begin.load() == begin) {
      r.begin.store(0, std::memory_order_release);
      r.end.store(0, std::memory_order_release);
    }
  }
}

bool model_file_changed() noexcept {
  return g_change.load(std::memory_order_acquire) != 0;
}

std::string model_file_change_reason() {
  switch (g_change.load()) {
    case 1:
      return "the model file shrank while it was in use (truncated or rewritten in place)";
    case 2:
      return "the model file was written to while it was in use";
    case 3:
      return "the model file was replaced or removed";
    default:
      return "";
  }
}

struct ModelFileWatch::Impl {
  int fd = -1;
  int stop[2] = {-1, -1};
  std::thread thread;
};

ModelFileWatch::ModelFileWatch(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (impl_->fd < 0 || ::pipe2(impl_->stop, O_CLOEXEC) != 0) return;
  if (::inotify_add_watch(impl_->fd, path.c_str(),
                          IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF) < 0)
    return;
  struct stat watched {};
  if (::stat(path.c_str(), &watched) != 0) return;
  // Replaced (renamed over, or removed) when the path no longer names the inode we loaded.
  const auto replaced = [path, inode = watched.st_ino, device = watched.st_dev] {
    struct stat now {};
    return ::stat(path.c_str(), &now) != 0 || now.st_ino != inode || now.st_dev != device;
  };
  impl_->thread = std::thread([fd = impl_->fd, stop = impl_->stop[0], replaced] {
    alignas(inotify_event) char buffer[4096];
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if ((fds[1].revents & POLLIN) != 0) return;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
        int expected = 0;
        if ((e->mask & IN_MODIFY) != 0) {
          g_change.compare_exchange_strong(expected, 2);
        } else if ((e->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB)) != 0 && replaced()) {
          g_change.compare_exchange_strong(expected, 3);
        }
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
  });
}

ModelFileWatch::~ModelFileWatch() {
  if (impl_->thread.joinable()) {
    const char byte = 0;
    [[maybe_unused]] const auto written = ::write(impl_->stop[1], &byte, 1);
    impl_->thread.join();
  }
  for (int fd : {impl_->fd, impl_->stop[0], impl_->stop[1]})
    if (fd >= 0) ::close(fd);
}

}  // namespace llorch::engine
