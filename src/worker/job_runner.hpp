// What a slot's thread does with one job: generate inside the request's scope, so every narration
// reaches stdout and the stream; push tokens, metrics and exactly one terminal event; close.
#pragma once

#include "engine/generator.hpp"
#include "worker/job.hpp"
#include "worker/worker_metrics.hpp"

namespace llorch::worker {

// Returns the terminal event (`end` or `error`) for the slot pool to send once the slot is free.
narration::StreamMessage run_job(engine::Generator& generator, Job& job, WorkerMetrics& metrics,
                                 std::size_t progress_every);

}  // namespace llorch::worker
