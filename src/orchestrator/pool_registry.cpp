#include "orchestrator/pool_registry.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "api/json_input.hpp"
#include "narration/correlation.hpp"

namespace llorch::orchestrator {

namespace {

using Json = nlohmann::json;

bool is_ready(const WorkerEntry& w) {
  return (w.state == "ready" || w.state == "busy") && !w.url.empty();
}

bool matches(const WorkerEntry& w, const std::string& model) {
  return model.empty() || model == w.model || model == model_id(w.model);
}

// Whether `w` can take a task for `model` now: ready, a slot free, not skipped for a moment.
bool can_take(const WorkerEntry& w, const std::string& model,
              std::chrono::steady_clock::time_point now) {
  return is_ready(w) && matches(w, model) && w.in_use < w.slots && w.shunned_until <= now;
}

}  // namespace

std::string model_id(const std::string& model_path) {
  return std::filesystem::path(model_path).stem().string();
}

std::optional<PoolReport> parse_pool_report(std::string_view text, bool need_url,
                                            std::vector<api::FieldError>& errors) {
  api::JsonProblem problem = api::JsonProblem::none;
  const Json body = api::parse_untrusted(text, &problem);
  if (body.is_discarded()) {
    errors.push_back(api::body_error(problem));
    return std::nullopt;
  }
  if (!body.is_object()) {
    errors.push_back({"", "type:object", "the body must be a JSON object"});
    return std::nullopt;
  }
  PoolReport report;
  const auto string_field = [&](const Json& object, const char* name, const std::string& where,
                                std::string& out, bool required) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) {
      if (required) errors.push_back({where + name, "required", where + name + " is required"});
      return;
    }
    if (!it->is_string()) {
      errors.push_back({where + name, "type:string", where + name + " must be a string"});
      return;
    }
    out = it->get<std::string>();
  };
  string_field(body, "pool_id", "", report.pool_id, true);
  if (!report.pool_id.empty() && !narration::is_valid_correlation_id(report.pool_id)) {
    errors.push_back({"pool_id", "pattern:^[A-Za-z0-9._:-]{1,64}$",
                      "pool_id must be 1-64 characters of A-Z a-z 0-9 . _ : -"});
  }
  string_field(body, "url", "", report.url, need_url);
  if (!report.url.empty() && report.url.rfind("http://", 0) != 0) {
    errors.push_back({"url", "pattern:^http://", "url must start with http://"});
  }
  const auto workers = body.find("workers");
  if (workers == body.end() || !workers->is_array()) {
    errors.push_back({"workers", "type:array", "workers must be an array of Worker objects"});
  } else {
    for (std::size_t i = 0; i < workers->size(); ++i) {
      const Json& w = (*workers)[i];
      const std::string where = fmt::format("workers[{}].", i);
      if (!w.is_object()) {
        errors.push_back({where.substr(0, where.size() - 1), "type:object", "must be an object"});
        continue;
      }
      WorkerEntry entry;
      string_field(w, "id", where, entry.id, true);
      string_field(w, "state", where, entry.state, true);
      string_field(w, "url", where, entry.url, false);
      string_field(w, "model", where, entry.model, true);
      string_field(w, "last_error", where, entry.last_error, false);
      string_field(w, "secret", where, entry.secret, false);
      const auto slots = w.find("slots");
      if (slots == w.end() || !slots->is_number_integer() || slots->get<std::int64_t>() < 1 ||
          slots->get<std::int64_t>() > 1024) {
        errors.push_back({where + "slots", "range:1..1024", where + "slots must be 1 to 1024"});
      } else {
        entry.slots = slots->get<int>();
      }
      // Optional: how often the pool restarted it (the operator's view shows it).
      const auto restarts = w.find("restarts");
      if (restarts != w.end() && !restarts->is_null()) {
        if (!restarts->is_number_integer() || restarts->get<std::int64_t>() < 0 ||
            restarts->get<std::int64_t>() > 1000000) {
          errors.push_back(
              {where + "restarts", "range:0..1000000", where + "restarts must be a count from 0"});
        } else {
          entry.restarts = restarts->get<int>();
        }
      }
      report.workers.push_back(std::move(entry));
    }
  }
  if (!errors.empty()) return std::nullopt;
  return report;
}

void PoolRegistry::update(PoolReport report, bool registered) {
  PoolEntry& pool = pools_[report.pool_id];
  std::map<std::string, WorkerEntry> before;
  for (auto& w : pool.workers) before[w.id] = std::move(w);
  pool.id = report.pool_id;
  if (!report.url.empty()) pool.url = report.url;
  pool.registered = pool.registered || registered;
  pool.last_seen = std::chrono::steady_clock::now();
  pool.workers = std::move(report.workers);
  const long now = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  for (const auto& w : pool.workers) first_seen_.try_emplace(model_id(w.model), now);
  for (auto& w : pool.workers) {
    const auto it = before.find(w.id);
    if (it != before.end() && it->second.url == w.url && it->second.secret == w.secret) {
      w.in_use = it->second.in_use;
      w.shunned_until = it->second.shunned_until;
    }
  }
}

bool PoolRegistry::remove(const std::string& pool_id) {
  return pools_.erase(pool_id) > 0;
}

std::vector<std::string> PoolRegistry::expire(std::chrono::steady_clock::time_point cutoff) {
  std::vector<std::string> gone;
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (it->second.registered && it->second.last_seen < cutoff) {
      gone.push_back(it->first);
      it = pools_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

WorkerEntry* PoolRegistry::pick(const std::string& model, PoolEntry** pool_out) {
  WorkerEntry* best = nullptr;
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, pool] : pools_) {
    for (auto& w : pool.workers) {
      if (!can_take(w, model, now)) continue;
      // Least loaded first (by share of slots in use), so that work spreads across workers.
      if (best == nullptr || w.in_use * best->slots < best->in_use * w.slots) {
        best = &w;
        *pool_out = &pool;
      }
    }
  }
  return best;
}

bool PoolRegistry::has_free_slot(const std::string& model) const {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, pool] : pools_) {
    for (const auto& w : pool.workers)
      if (can_take(w, model, now)) return true;
  }
  return false;
}

WorkerEntry* PoolRegistry::find(const std::string& pool_id, const std::string& worker_id) {
  const auto pool = pools_.find(pool_id);
  if (pool == pools_.end()) return nullptr;
  for (auto& w : pool->second.workers)
    if (w.id == worker_id) return &w;
  return nullptr;
}

bool PoolRegistry::serves(const std::string& model) const {
  for (const auto& [id, pool] : pools_)
    for (const auto& w : pool.workers)
      if (w.state != "stopped" && matches(w, model)) return true;
  return false;
}

std::string PoolRegistry::why_unservable(const std::string& model) const {
  std::string reasons;
  for (const auto& [id, pool] : pools_) {
    for (const auto& w : pool.workers) {
      if (w.state == "stopped" || !matches(w, model)) continue;
      if (w.state != "failed") return "";
      reasons += fmt::format("{}{} of pool {}: {}", reasons.empty() ? "" : "; ", w.id, id,
                             w.last_error.empty() ? "failed" : w.last_error);
    }
  }
  return reasons;
}

std::vector<std::pair<std::string, WorkerEntry>> PoolRegistry::problems() const {
  std::vector<std::pair<std::string, WorkerEntry>> out;
  for (const auto& [id, pool] : pools_)
    for (const auto& w : pool.workers)
      if (w.state == "failed" || w.state == "crashed") out.emplace_back(id, w);
  return out;
}

bool PoolRegistry::has_workers() const {
  for (const auto& [id, pool] : pools_)
    if (!pool.workers.empty()) return true;
  return false;
}

std::vector<std::string> PoolRegistry::models() const {
  std::set<std::string> ids;
  for (const auto& [id, pool] : pools_)
    for (const auto& w : pool.workers)
      if (w.state != "stopped") ids.insert(model_id(w.model));
  return {ids.begin(), ids.end()};
}

long PoolRegistry::created(const std::string& id) const {
  const auto it = first_seen_.find(id);
  return it == first_seen_.end() ? 0 : it->second;
}

std::size_t PoolRegistry::ready_workers() const {
  std::size_t n = 0;
  for (const auto& [id, pool] : pools_)
    for (const auto& w : pool.workers) n += is_ready(w) ? 1 : 0;
  return n;
}

}  // namespace llorch::orchestrator
