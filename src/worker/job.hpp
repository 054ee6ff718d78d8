// One /execute request on its way through the worker: what was asked, who asked (the request
// context with its stream channel), and whether it should stop.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/execute_request.hpp"
#include "narration/context.hpp"

namespace llorch::worker {

struct Job {
  api::ExecuteRequest request;
  narration::RequestContext context;  // correlation id, job id, the stream's channel
  std::atomic<bool> cancel{false};    // set by /cancel, a disconnect or shutdown; polled every step
};

}  // namespace llorch::worker
