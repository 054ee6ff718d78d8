#include "reference_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace llorch::engine::testing {
namespace {

std::vector<TokenId> ids_after_colon(const std::string& line) {
  std::istringstream in(line.substr(line.find(':') + 1));
  std::vector<TokenId> ids;
  for (TokenId id; in >> id;) ids.push_back(id);
  return ids;
}

}  // namespace

std::size_t ReferenceCase::robust_count(double min_margin) const {
  std::size_t cut = prompt_ids.size() - 1 + generated_ids.size();
  for (const Margin& m : margins) {
    if (m.margin < min_margin) cut = std::min(cut, m.position);
  }
  // The k-th generated token is sampled at position prompt_ids.size() - 1 + k.
  return cut + 1 > prompt_ids.size() ? std::min(generated_ids.size(), cut + 1 - prompt_ids.size())
                                     : 0;
}

ReferenceCase read_reference(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read reference " + file);
  ReferenceCase c;
  c.name = file;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("prompt: ", 0) == 0) {
      const std::string value = line.substr(8);
      if (value.front() == '"') c.prompt = nlohmann::json::parse(value).get<std::string>();
    } else if (line.rfind("prompt_token_ids", 0) == 0) {
      c.prompt_ids = ids_after_colon(line);
    } else if (line.rfind("generated_token_ids", 0) == 0) {
      c.generated_ids = ids_after_colon(line.substr(line.find(')') + 1));
    } else if (line.rfind("min top1-top2", 0) == 0) {
      // Tuples "(margin, pos, top1, top2)" after the colon.
      for (std::size_t open = line.find('(', line.find(':')); open != std::string::npos;
           open = line.find('(', open + 1)) {
        std::istringstream tuple(line.substr(open + 1, line.find(')', open) - open - 1));
        double margin = 0;
        std::size_t position = 0;
        char comma = 0;
        if (tuple >> margin >> comma >> position) c.margins.push_back({margin, position});
      }
    } else if (line.rfind("stdout (exact, JSON-escaped", 0) == 0 ||
               line.rfind("stdout (JSON-escaped)", 0) == 0) {
      std::string json;
      if (const auto at = line.find(": \""); at != std::string::npos) {
        json = line.substr(at + 2);
      } else {
        std::getline(in, json);
      }
      c.stdout_text = nlohmann::json::parse(json).get<std::string>();
    }
  }
  if (c.prompt_ids.empty()) throw std::runtime_error(file + ": no prompt_token_ids line");
  return c;
}

}  // namespace llorch::engine::testing
