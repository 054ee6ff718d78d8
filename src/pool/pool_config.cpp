#include "pool/pool_config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/device_name.hpp"
#include "api/json_input.hpp"

namespace llorch::pool {

namespace {

namespace fs = std::filesystem;
using api::FieldError;

std::filesystem::path absolute_from(const fs::path& base, const std::string& path) {
  const fs::path p(path);
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

// Walks one TOML table: each key is handed to its reader; unknown keys and wrong types become
// errors naming the key's full path.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, std::vector<FieldError>& errors)
      : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

  using Read = std::function<void(const toml::node&, const std::string& key)>;

  TableReader& on(const std::string& key, Read read) {
    readers_.emplace(key, std::move(read));
    return *this;
  }

  void run() {
    for (const auto& [key, node] : table_) {
      const std::string name(key.str());
      const auto it = readers_.find(name);
      if (it == readers_.end()) {
        std::string known;
        for (const auto& [k, _] : readers_) known += (known.empty() ? "" : ", ") + k;
        errors_.push_back({prefix_ + name, "unknown",
                           fmt::format("unknown key {}; the keys here are {}", name, known)});
        continue;
      }
      it->second(node, prefix_ + name);
    }
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::vector<FieldError>& errors_;
  std::map<std::string, Read> readers_;
};

}  // namespace

std::vector<FieldError> check_worker_spec(const WorkerSpec& spec, const std::string& prefix);

namespace {

// The spec's rule violations, for fields whose reading did not already fail (one error a field).
void add_spec_errors(const WorkerSpec& spec, const std::string& prefix,
                     std::vector<FieldError>& errors) {
  for (auto& e : check_worker_spec(spec, prefix)) {
    const bool reported = std::any_of(errors.begin(), errors.end(),
                                      [&](const auto& x) { return x.field == e.field; });
    if (!reported) errors.push_back(std::move(e));
  }
}

}  // namespace

PortRange parse_port_range(const std::string& text) {
  const auto parse = [&](std::string_view part) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (ec != std::errc() || end != part.data() + part.size() || value < 1024 || value > 65535) {
      throw ConfigError(fmt::format(
          "worker ports {:?}: {:?} is not a port from 1024 to 65535; write A-B, e.g. 19100-19899",
          text, part));
    }
    return static_cast<std::uint16_t>(value);
  };
  const std::string_view view(text);
  const auto dash = view.find('-');
  PortRange range;
  range.first = parse(view.substr(0, dash));
  range.last = dash == std::string_view::npos ? range.first : parse(view.substr(dash + 1));
  if (range.last < range.first)
    throw ConfigError(fmt::format("worker ports {:?}: the range is empty; write low-high", text));
  return range;
}

std::vector<FieldError> check_worker_spec(const WorkerSpec& spec, const std::string& prefix) {
  std::vector<FieldError> errors;
  std::error_code ec;
  if (spec.model.empty()) {
    errors.push_back({prefix + "model", "required", "model is required: the path of a GGUF file"});
  } else if (!fs::is_regular_file(spec.model, ec)) {
    errors.push_back({prefix + "model", "exists",
                      fmt::format("no model file at {}; give the path of a GGUF or llama2.c file "
                                  "that the pool manager can read",
                                  spec.model)});
  }
  if (!api::is_device_name(spec.device)) {
    errors.push_back({prefix + "device", "enum",
                      fmt::format("device {:?} is not cpu, cuda:N or metal:N", spec.device)});
  }
  if (spec.threads < 1 || spec.threads > 256)
    errors.push_back({prefix + "threads", "range:1..256", "threads must be 1 to 256"});
  if (spec.slots < 1 || spec.slots > 64)
    errors.push_back({prefix + "slots", "range:1..64", "slots must be 1 to 64"});
  if (spec.count < 1 || spec.count > 64)
    errors.push_back({prefix + "count", "range:1..64", "count must be 1 to 64"});
  if (spec.context_length > (1u << 20))
    errors.push_back(
        {prefix + "ctx", "range:0..1048576", "ctx must be 0 (the model's) to 1048576"});
  if (spec.kv_size != 0 && (spec.kv_size < 16 || spec.kv_size > (1u << 24)))
    errors.push_back({prefix + "kv_size", "range:16..16777216",
                      "kv_size must be 0 (slots × context) or 16 to 16777216 positions"});
  if (spec.kv_type != "f16" && spec.kv_type != "q8_0" && spec.kv_type != "f32")
    errors.push_back({prefix + "kv_type", "enum",
                      fmt::format("kv_type {:?} is not f16, q8_0 or f32", spec.kv_type)});
  return errors;
}

void load_pool_config(const fs::path& path, PoolConfig& config) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ConfigError(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  }
  std::ostringstream text;
  text << file.rdbuf();
  parse_pool_config(text.str(), path.string(), fs::absolute(path).parent_path(), config);
}

void parse_pool_config(std::string_view toml_text, const std::string& source, const fs::path& base,
                       PoolConfig& config) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  std::vector<FieldError> errors;

  const auto integer = [&](const toml::node& node, const std::string& key, std::int64_t min,
                           std::int64_t max, auto apply) {
    const auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value || *value < min || *value > max) {
      errors.push_back({key, fmt::format("range:{}..{}", min, max),
                        fmt::format("must be an integer from {} to {}", min, max)});
      return;
    }
    apply(*value);
  };
  const auto text = [&](const toml::node& node, const std::string& key, auto apply) {
    if (const auto value = node.value<std::string>(); node.is_string() && value) {
      apply(*value);
    } else {
      errors.push_back({key, "type:string", "must be a string"});
    }
  };
  const auto millis = [&](const toml::node& node, const std::string& key, std::int64_t scale,
                          std::int64_t max, std::chrono::milliseconds& out) {
    integer(node, key, 1, max, [&](std::int64_t v) { out = std::chrono::milliseconds(v * scale); });
  };

  auto& s = config.supervision;
  TableReader(root, "", errors)
      .on("pool_id", [&](const toml::node& n,
                         const std::string& k) { text(n, k, [&](auto v) { config.pool_id = v; }); })
      .on("orchestrator",
          [&](const toml::node& n, const std::string& k) {
            text(n, k, [&](auto v) { config.orchestrator_url = v; });
          })
      .on("worker_ports",
          [&](const toml::node& n, const std::string& k) {
            text(n, k, [&](const std::string& v) {
              try {
                config.worker_ports = parse_port_range(v);
              } catch (const ConfigError& e) {
                errors.push_back({k, "port-range", e.what()});
              }
            });
          })
      .on("heartbeat_interval_ms",
          [&](const toml::node& n, const std::string& k) {
            millis(n, k, 1, 3'600'000, config.heartbeat_interval);
          })
      .on("supervision",
          [&](const toml::node& n, const std::string& k) {
            const toml::table* table = n.as_table();
            if (table == nullptr) {
              errors.push_back({k, "type:table", "supervision must be a table: [supervision]"});
              return;
            }
            TableReader(*table, k + ".", errors)
                .on("ready_timeout_s",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1000, 3600, s.ready_timeout);
                    })
                .on("health_interval_ms",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1, 600'000, s.health_interval);
                    })
                .on("health_failures_before_kill",
                    [&](const toml::node& v, const std::string& key) {
                      integer(v, key, 1, 1000,
                              [&](std::int64_t x) { s.health_failures_before_kill = int(x); });
                    })
                .on("restart_backoff_ms",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1, 600'000, s.restart_backoff);
                    })
                .on("restart_backoff_max_ms",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1, 3'600'000, s.restart_backoff_max);
                    })
                .on("crash_loop_crashes",
                    [&](const toml::node& v, const std::string& key) {
                      integer(v, key, 1, 1000,
                              [&](std::int64_t x) { s.crash_loop_crashes = int(x); });
                    })
                .on("crash_loop_window_s",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1000, 86400, s.crash_loop_window);
                    })
                .on("drain_timeout_s",
                    [&](const toml::node& v, const std::string& key) {
                      millis(v, key, 1000, 3600, s.drain_timeout);
                    })
                .run();
          })
      .on("workers",
          [&](const toml::node& n, const std::string& k) {
            const toml::array* array = n.as_array();
            if (array == nullptr || !array->is_array_of_tables()) {
              errors.push_back(
                  {k, "type:array-of-tables", "workers must be tables: one [[workers]] each"});
              return;
            }
            for (std::size_t i = 0; i < array->size(); ++i) {
              WorkerSpec spec;
              const std::string prefix = fmt::format("{}[{}].", k, i);
              const auto count = [&](std::size_t& out, std::int64_t min, std::int64_t max) {
                return [&, min, max](const toml::node& v, const std::string& key) {
                  integer(v, key, min, max, [&](std::int64_t x) { out = std::size_t(x); });
                };
              };
              TableReader(*array->at(i).as_table(), prefix, errors)
                  .on("model",
                      [&](const toml::node& v, const std::string& key) {
                        text(v, key, [&](const std::string& m) {
                          spec.model = absolute_from(base, m).string();
                        });
                      })
                  .on("device",
                      [&](const toml::node& v, const std::string& key) {
                        text(v, key, [&](const std::string& d) { spec.device = d; });
                      })
                  .on("threads", count(spec.threads, 1, 256))
                  .on("slots", count(spec.slots, 1, 64))
                  .on("count", count(spec.count, 1, 64))
                  .on("ctx", count(spec.context_length, 0, 1 << 20))
                  .on("kv_size", count(spec.kv_size, 0, 1 << 24))
                  .on("kv_type",
                      [&](const toml::node& v, const std::string& key) {
                        text(v, key, [&](const std::string& t) { spec.kv_type = t; });
                      })
                  .run();
              add_spec_errors(spec, prefix, errors);
              config.workers.push_back(std::move(spec));
            }
          })
      .run();

  if (!errors.empty()) {
    std::string message =
        fmt::format("{}: {} problem{}:", source, errors.size(), errors.size() == 1 ? "" : "s");
    for (const auto& e : errors) message += fmt::format("\n  {}: {}", e.field, e.message);
    throw ConfigError(message);
  }
}

std::vector<FieldError> parse_worker_request(const std::string& body, const fs::path& base,
                                             WorkerSpec& spec) {
  api::JsonProblem problem = api::JsonProblem::none;
  const auto json = api::parse_untrusted(body, &problem);
  if (json.is_discarded()) return {api::body_error(problem)};
  if (!json.is_object()) return {{"", "type:object", "the body must be a JSON object"}};
  std::vector<FieldError> errors;
  const auto whole = [&](const nlohmann::json& v, const char* key, std::int64_t min,
                         std::int64_t max, std::size_t& out) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max) {
      errors.push_back({key, fmt::format("range:{}..{}", min, max),
                        fmt::format("{} must be an integer from {} to {}", key, min, max)});
      return;
    }
    out = static_cast<std::size_t>(v.get<std::int64_t>());
  };
  bool has_model = false;
  for (const auto& [key, value] : json.items()) {
    if (key == "model") {
      has_model = true;
      if (value.is_string() && !value.get<std::string>().empty()) {
        spec.model = absolute_from(base, value.get<std::string>()).string();
      } else {
        errors.push_back({"model", "type:string", "model must be the path of a model file"});
      }
    } else if (key == "device") {
      if (value.is_string()) {
        spec.device = value.get<std::string>();
      } else {
        errors.push_back({"device", "type:string", "device must be cpu, cuda:N or metal:N"});
      }
    } else if (key == "threads") {
      whole(value, "threads", 1, 256, spec.threads);
    } else if (key == "slots") {
      whole(value, "slots", 1, 64, spec.slots);
    } else if (key == "ctx") {
      whole(value, "ctx", 0, 1 << 20, spec.context_length);
    } else if (key == "kv_size") {
      whole(value, "kv_size", 0, 1 << 24, spec.kv_size);
    } else if (key == "kv_type") {
      if (value.is_string()) {
        spec.kv_type = value.get<std::string>();
      } else {
        errors.push_back({"kv_type", "type:string", "kv_type must be f16, q8_0 or f32"});
      }
    } else {
      errors.push_back({key, "unknown",
                        fmt::format("unknown field {}; the fields are model, device, threads, "
                                    "slots, ctx, kv_size, kv_type",
                                    key)});
    }
  }
  if (!has_model)
    errors.push_back({"model", "required", "model is required: the path of a GGUF file"});
  add_spec_errors(spec, "", errors);
  return errors;
}

}  // namespace llorch::pool
