// Model files that are not what they were: a FIFO given as the model is refused at once (opening
// it would wait for a writer forever), and a file rewritten under a running worker ends the
// user's stream with MODEL_FILE_CHANGED, after which the pool manager starts the worker on the
// new file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "security_support.hpp"
#include "temp_dir.hpp"

namespace llorch::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(ModelFile, AFifoIsRefusedAtOnce) {
  TempDir dir;
  const fs::path fifo = dir.path() / "model.gguf";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  LlorchProcess worker({"worker", "--model", fifo.string(), "--port", "0"}, {}, false);
  EXPECT_EQ(worker.wait_exit(10s), 3) << "model load failed";
  const auto failed = worker.wait_for_event(
      [](const narration::Event& e) { return e.action == "model_load_failed"; }, 1s);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->human.find("FIFO"), std::string::npos) << failed->human;
}

TEST(ModelFile, AFileRewrittenUnderAWorkerEndsTheStreamAndTheWorkerComesBackOnTheNewFile) {
  TempDir dir;
  const fs::path model = dir.path() / "stories260K.gguf";
  fs::copy_file(model_path(), model);
  const auto size = fs::file_size(model);
  Serve serve({"--ctx", "8192"}, {}, model.string());
  const std::string url = serve.process.url();
  const auto created =
      request("POST", url + "/v2/tasks",
              json{{"prompt", "Once"}, {"max_tokens", 8000}, {"ignore_eos", true}}.dump());
  ASSERT_EQ(created.status, 202u) << created.body;

  // Once tokens flow, cut the file in half under the worker (as `cp other.gguf` would, for a
  // moment), then put it back.
  std::thread change([&] {
    std::this_thread::sleep_for(300ms);
    fs::resize_file(model, size / 2);
    std::this_thread::sleep_for(300ms);
    fs::copy_file(model_path(), model, fs::copy_options::overwrite_existing);
  });
  const auto stream = read_stream(url + json::parse(created.body)["events_url"].get<std::string>());
  change.join();
  ASSERT_FALSE(stream.names.empty());
  EXPECT_EQ(stream.names.back(), "error");
  EXPECT_EQ(stream.data.back()["code"], "MODEL_FILE_CHANGED") << stream.data.back();
  record_received("event", stream.data.back());

  // The pool manager starts the worker again on the file as it is now.
  EXPECT_TRUE(serve.process.wait_for_action("model_file_changed", 10s));
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  unsigned status = 0;
  std::string body;
  while (std::chrono::steady_clock::now() < deadline && status != 200) {
    const auto answer =
        request("POST", url + "/v1/completions",
                json{{"model", "stories260K"}, {"prompt", "Once"}, {"max_tokens", 4}}.dump());
    status = answer.status;
    body = answer.body;
    if (status != 200) std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(status, 200u) << body;
  EXPECT_TRUE(serve.process.running());
}

}  // namespace
}  // namespace llorch::testing
