// The orchestrator's API keys: who may use the user's API, and as which client. Keys come from
// --api-token-env (one key, client "default") and --api-keys-file (one `client:key` a line, `#`
// comments; read again when the file changes). Each task belongs to the client whose key created
// it; other clients are told it does not exist.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace llorch::orchestrator {

struct ApiKey {
  std::string client;  // 1-64 of [A-Za-z0-9._:-]
  std::string key;     // at least 16 characters
};

// Parses a key file's text; throws std::invalid_argument naming the line and the fix.
std::vector<ApiKey> parse_api_keys(std::string_view text, const std::string& source);

class ApiKeys {
 public:
  ApiKeys() = default;
  // Throws std::invalid_argument (naming the file and the fix) when the file cannot be used.
  ApiKeys(std::string single_key, std::filesystem::path file);

  // Whether any key is configured: then every endpoint but /health needs one.
  bool enabled() const;
  // The client a bearer token belongs to; nullopt when it is no key. Re-reads the file first
  // when it changed (at most once a second); a file that became unusable keeps the old keys.
  std::optional<std::string> client_of(std::string_view token);

 private:
  void reload_if_changed();

  mutable std::mutex mutex_;
  std::string single_key_;
  std::filesystem::path file_;
  std::filesystem::file_time_type file_time_{};
  std::chrono::steady_clock::time_point checked_{};
  std::vector<ApiKey> keys_;
};

}  // namespace llorch::orchestrator
