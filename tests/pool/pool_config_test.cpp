// The pool config file, the worker-ports flag and the POST /v1/workers body: what is accepted,
// and that every problem is named with its place and its fix.
#include "pool/pool_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace llorch::pool {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(LLORCH_MODELS_DIR) + "/gguf/stories260K.gguf";

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "llorch-config-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& text) {
    const fs::path file = dir_ / "pool.toml";
    std::ofstream(file) << text;
    return file;
  }
  // The ConfigError's message for `text`, or "" when it loaded.
  std::string problem(const std::string& text) {
    PoolConfig config;
    try {
      load_pool_config(write(text), config);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ConfigFile, ReadsEveryKey) {
  PoolConfig config;
  load_pool_config(write("pool_id = \"gpu-box\"\n"
                         "orchestrator = \"http://127.0.0.1:9000\"\n"
                         "worker_ports = \"20000-20010\"\n"
                         "heartbeat_interval_ms = 250\n"
                         "[supervision]\n"
                         "ready_timeout_s = 7\nhealth_interval_ms = 300\n"
                         "health_failures_before_kill = 4\nrestart_backoff_ms = 10\n"
                         "restart_backoff_max_ms = 1000\ncrash_loop_crashes = 2\n"
                         "crash_loop_window_s = 9\ndrain_timeout_s = 3\n"
                         "[[workers]]\nmodel = \"" +
                         kModel +
                         "\"\ncount = 2\nslots = 3\nthreads = 2\nctx = 128\n"
                         "[[workers]]\nmodel = \"" +
                         kModel + "\"\ndevice = \"cuda:1\"\n"),
                   config);
  EXPECT_EQ(config.pool_id, "gpu-box");
  EXPECT_EQ(config.orchestrator_url, "http://127.0.0.1:9000");
  EXPECT_EQ(config.worker_ports.first, 20000);
  EXPECT_EQ(config.worker_ports.last, 20010);
  EXPECT_EQ(config.heartbeat_interval.count(), 250);
  EXPECT_EQ(config.supervision.ready_timeout.count(), 7000);
  EXPECT_EQ(config.supervision.health_interval.count(), 300);
  EXPECT_EQ(config.supervision.health_failures_before_kill, 4);
  EXPECT_EQ(config.supervision.restart_backoff.count(), 10);
  EXPECT_EQ(config.supervision.restart_backoff_max.count(), 1000);
  EXPECT_EQ(config.supervision.crash_loop_crashes, 2);
  EXPECT_EQ(config.supervision.crash_loop_window.count(), 9000);
  EXPECT_EQ(config.supervision.drain_timeout.count(), 3000);
  ASSERT_EQ(config.workers.size(), 2u);
  EXPECT_EQ(config.workers[0].count, 2u);
  EXPECT_EQ(config.workers[0].slots, 3u);
  EXPECT_EQ(config.workers[0].threads, 2u);
  EXPECT_EQ(config.workers[0].context_length, 128u);
  EXPECT_EQ(config.workers[1].device, "cuda:1");
}

TEST_F(ConfigFile, RelativeModelPathsAreTakenFromTheConfigFilesFolder) {
  fs::copy_file(kModel, dir_ / "tiny.gguf");
  PoolConfig config;
  load_pool_config(write("[[workers]]\nmodel = \"tiny.gguf\"\n"), config);
  ASSERT_EQ(config.workers.size(), 1u);
  EXPECT_EQ(config.workers[0].model, (dir_ / "tiny.gguf").string());
}

TEST_F(ConfigFile, EveryProblemIsNamedWithItsKey) {
  const std::string message = problem(
      "pool_idd = \"x\"\nworker_ports = \"80-90\"\n[supervision]\nready_timeout_s = -1\n"
      "[[workers]]\nmodel = \"/no/such.gguf\"\nslots = \"two\"\ndevice = \"tpu\"\n");
  EXPECT_NE(message.find("6 problems"), std::string::npos) << message;
  EXPECT_NE(message.find("pool_idd: unknown key pool_idd; the keys here are"), std::string::npos)
      << message;
  EXPECT_NE(message.find("worker_ports:"), std::string::npos) << message;
  EXPECT_NE(message.find("supervision.ready_timeout_s: must be an integer from 1 to 3600"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("workers[0].model: no model file at /no/such.gguf"), std::string::npos)
      << message;
  EXPECT_NE(message.find("workers[0].slots: must be an integer from 1 to 64"), std::string::npos)
      << message;
  EXPECT_NE(message.find("workers[0].device"), std::string::npos) << message;
}

TEST_F(ConfigFile, TomlSyntaxErrorsNameTheLine) {
  const std::string message = problem("pool_id = \"x\"\n[[workers]\n");
  EXPECT_NE(message.find("pool.toml:2:"), std::string::npos) << message;
}

TEST_F(ConfigFile, WrongShapesAreErrorsNotCrashes) {
  EXPECT_NE(problem("supervision = 3\n"), "");
  EXPECT_NE(problem("workers = 3\n"), "");
  EXPECT_NE(problem("workers = [1, 2]\n"), "");
  EXPECT_NE(problem("[[workers]]\n"), "");  // model is required
  EXPECT_EQ(problem(""), "");               // nothing declared is fine: spawn over the API
}

TEST(PortRange, AcceptsRangesAndSinglePorts) {
  EXPECT_EQ(parse_port_range("20000-20010").first, 20000);
  EXPECT_EQ(parse_port_range("20000-20010").last, 20010);
  EXPECT_EQ(parse_port_range("30000").last, 30000);
  for (const char* bad : {"", "-", "80-90", "30000-20000", "1-x", "70000", "2000-", "20000-20010x"})
    EXPECT_THROW(parse_port_range(bad), ConfigError) << bad;
}

TEST(WorkerRequest, ReadsTheFieldsAndResolvesTheModel) {
  WorkerSpec spec;
  const auto errors = parse_worker_request(
      R"({"model":"stories260K.gguf","device":"cpu","threads":2,"slots":3,"ctx":64,)"
      R"("kv_size":4096,"kv_type":"q8_0"})",
      fs::path(LLORCH_MODELS_DIR) / "gguf", spec);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(spec.model, fs::path(kModel).lexically_normal().string());
  EXPECT_EQ(spec.threads, 2u);
  EXPECT_EQ(spec.slots, 3u);
  EXPECT_EQ(spec.context_length, 64u);
  EXPECT_EQ(spec.kv_size, 4096u);
  EXPECT_EQ(spec.kv_type, "q8_0");
}

TEST(WorkerRequest, ReportsEveryFailingField) {
  WorkerSpec spec;
  const auto errors = parse_worker_request(
      R"({"device":"gpu","threads":0,"slots":1.5,"ctx":-1,"extra":true})", "/", spec);
  std::vector<std::string> fields;
  for (const auto& e : errors) fields.push_back(e.field);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields,
            (std::vector<std::string>{"ctx", "device", "extra", "model", "slots", "threads"}));
  EXPECT_EQ(parse_worker_request("[1]", "/", spec).at(0).constraint, "type:object");
  EXPECT_EQ(parse_worker_request("{", "/", spec).at(0).constraint, "json");
}

}  // namespace
}  // namespace llorch::pool
