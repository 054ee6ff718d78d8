// The machine's memory read bandwidth, measured now: what decoding a model is limited by. The
// figure in shared/docs/performance-targets.md is one moment of a shared VM; the host's speed
// moves by tens of percent within the hour, so `llorch bench` compares generation with a figure
// taken beside it.
#pragma once

#include <cstddef>

namespace llorch::cli {

// GB/s of `threads` threads reading a 512 MiB buffer (far larger than any cache), each its own
// slice; the best of `repetitions` (as STREAM reports). Takes about a second.
double measure_read_bandwidth_gbps(std::size_t threads, int repetitions = 5);

}  // namespace llorch::cli
