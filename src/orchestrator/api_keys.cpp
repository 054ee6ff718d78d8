#include "orchestrator/api_keys.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "api/http_common.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;

namespace {

constexpr std::size_t kMinKeyLength = 16;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw std::invalid_argument(
        fmt::format("--api-keys-file {}: not a readable file; create it with one "
                    "`client:key` line per client",
                    path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof())
    throw std::invalid_argument(fmt::format("--api-keys-file {}: cannot be read", path.string()));
  return text.str();
}

}  // namespace

std::vector<ApiKey> parse_api_keys(std::string_view text, const std::string& source) {
  std::vector<ApiKey> keys;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      throw std::invalid_argument(fmt::format(
          "{} line {}: expected `client:key` (a client name, a colon, the key)", source, number));
    }
    ApiKey key{std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))};
    if (!n::is_valid_correlation_id(key.client)) {
      throw std::invalid_argument(fmt::format(
          "{} line {}: the client name must be 1-64 of A-Z a-z 0-9 . _ : -", source, number));
    }
    if (key.key.size() < kMinKeyLength || key.key.find_first_of(" \t") != std::string::npos) {
      throw std::invalid_argument(fmt::format(
          "{} line {}: the key of {} must be at least {} characters without spaces (e.g. "
          "`openssl rand -hex 16`)",
          source, number, key.client, kMinKeyLength));
    }
    for (const auto& other : keys) {
      if (other.key == key.key || other.client == key.client)
        throw std::invalid_argument(fmt::format(
            "{} line {}: client {} or its key appears twice; give each client its own key", source,
            number, key.client));
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

ApiKeys::ApiKeys(std::string single_key, std::filesystem::path file)
    : single_key_(std::move(single_key)), file_(std::move(file)) {
  if (!file_.empty()) {
    keys_ = parse_api_keys(read_file(file_), file_.string());
    std::error_code ec;
    file_time_ = std::filesystem::last_write_time(file_, ec);
    checked_ = std::chrono::steady_clock::now();
  }
}

bool ApiKeys::enabled() const {
  std::lock_guard lock(mutex_);
  return !single_key_.empty() || !file_.empty();
}

void ApiKeys::reload_if_changed() {
  if (file_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return;
  checked_ = now;
  std::error_code ec;
  const auto time = std::filesystem::last_write_time(file_, ec);
  if (ec || time == file_time_) return;
  file_time_ = time;
  try {
    keys_ = parse_api_keys(read_file(file_), file_.string());
    n::info(n::actor::orchestrator, n::action::log_config)
        .target(file_.string())
        .human("Read {} API key(s) again from {}", keys_.size(), file_.string())
        .emit();
  } catch (const std::exception& e) {
    n::error(n::actor::orchestrator, n::action::log_config)
        .target(file_.string())
        .human("Kept the previous API keys: {}", e.what())
        .error_kind("API_KEYS_UNUSABLE")
        .emit();
  }
}

std::optional<std::string> ApiKeys::client_of(std::string_view token) {
  std::lock_guard lock(mutex_);
  reload_if_changed();
  // Every key is compared, in constant time each, whichever matches.
  std::optional<std::string> client;
  if (api::same_secret(token, single_key_)) client = "default";
  for (const auto& k : keys_)
    if (api::same_secret(token, k.key) && !client) client = k.client;
  return client;
}

}  // namespace llorch::orchestrator
