// What the engine loop does with one job, around its generation: the request and hooks (tokens
// into the job's stream, narration into its scope, its cancel flag), then exactly one terminal
// event (`end` with the metrics event before it, or `error`) and the worker's metrics.
#pragma once

#include <exception>

#include "engine/generator.hpp"
#include "worker/job.hpp"
#include "worker/worker_metrics.hpp"

namespace llorch::worker {

struct JobGeneration {
  engine::GenerationRequest request;
  engine::GenerationHooks hooks;
};

JobGeneration prepare_job(Job& job, std::size_t progress_every);

// The terminal event of a generation that ran to its end (a model file that changed meanwhile
// makes it an error). Pushes the metrics event first.
narration::StreamMessage finish_job(Job& job, const engine::GenerationResult& result,
                                    WorkerMetrics& metrics);

// The terminal event of a generation that failed (narrated in the job's scope).
narration::StreamMessage fail_job(Job& job, const std::exception& error, WorkerMetrics& metrics);

}  // namespace llorch::worker
