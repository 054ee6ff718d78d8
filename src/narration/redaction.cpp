#include "narration/redaction.hpp"

#include <algorithm>
#include <array>
#include <boost/regex.hpp>
#include <stdexcept>
#include <string_view>

#include "narration/swar.hpp"

namespace llorch::narration {
namespace {

// Boost.Regex rather than std::regex: libstdc++'s regex recurses per character and overflows the
// stack on long hostile input; Boost's matcher is non-recursive and bounded.
constexpr auto kFlags = boost::regex::perl | boost::regex::icase;

struct Rule {
  boost::regex pattern;
  const char* replacement;
};

// Bare key shapes are matched case-sensitively (AKIA is upper case by definition; `Sk-` is not a
// key).
constexpr auto kExact = boost::regex::perl;

const std::array<Rule, 12>& rules() {
  static const std::array<Rule, 12> kRules{{
      // Provider keys that are recognisable on their own, wherever they appear.
      {boost::regex(R"(\bsk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,})", kExact),
       "[REDACTED API KEY]"},  // OpenAI, Anthropic
      {boost::regex(R"(\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b)", kExact),
       "[REDACTED AWS KEY]"},  // AWS key ids
      {boost::regex(R"(\bgh[pousr]_[A-Za-z0-9]{30,})", kExact), "[REDACTED GITHUB TOKEN]"},
      {boost::regex(R"(\bgithub_pat_[A-Za-z0-9_]{20,})", kExact), "[REDACTED GITHUB TOKEN]"},
      {boost::regex(R"(\bxox[abposr]-[A-Za-z0-9\-]{10,})", kExact), "[REDACTED SLACK TOKEN]"},
      {boost::regex(R"(\bAIza[0-9A-Za-z_\-]{35})", kExact), "[REDACTED GOOGLE KEY]"},
      {boost::regex(R"(\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,})", kExact), "[REDACTED STRIPE KEY]"},
      {boost::regex(
           R"(-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY-----|.*\z))",
           kFlags | boost::regex::mod_s),
       "[REDACTED PRIVATE KEY]"},
      {boost::regex(R"(\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)", kFlags),
       "[REDACTED JWT]"},
      {boost::regex(R"(\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*)", kFlags), "$1$2[REDACTED]"},
      {boost::regex(R"(\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)([^\s@/]+)(@))", kFlags),
       "$1[REDACTED]$3"},
      {boost::regex(
           R"(\b((?:x[_-]?)?(?:api|access|auth|refresh|session|client|private|secret)?[_\- ]?(?:key|token|secret|password|passwd|pwd|passphrase)|authorization)(\s*["']?\s*[:=]\s*)("[^"]*"?|'[^']*'?|(?!\[REDACTED|bearer\b|basic\b)[^\s"',;&]+))",
           kFlags),
       "$1$2[REDACTED]"},
  }};
  return kRules;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view lower) noexcept {
  if (text.size() < lower.size()) return false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    if ((text[i] | 0x20) != lower[i]) return false;  // letters only: |0x20 folds ASCII case
  }
  return true;
}

// One pass that rules out the common case: ordinary narration holds no trigger at all. Key/value
// secrets and URL passwords need a ':' or '='; PEM blocks, JWTs and bearer/basic credentials have
// marks of their own.
bool may_hold_secret(std::string_view text) noexcept {
  // A trigger is recognised by a rare byte: ':' '=' '-' 'J' (of "eyJ") 'b' 'B', 'A' (AKIA…,
  // AIza…) and '_' (ghp_…, sk_live_…). Words of eight bytes holding none of them are skipped
  // whole.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 8 == 0 && i + 8 <= text.size()) {
      const std::uint64_t w = swar::load(text.data() + i);
      if ((swar::bytes_equal(w, ':') | swar::bytes_equal(w, '=') | swar::bytes_equal(w, '-') |
           swar::bytes_equal(w, 'J') | swar::bytes_equal(w, 'b') | swar::bytes_equal(w, 'B') |
           swar::bytes_equal(w, 'A') | swar::bytes_equal(w, '_')) == 0) {
        i += 7;
        continue;
      }
    }
    switch (text[i]) {
      case ':':
      case '=':
        return true;
      case '-':
        if (text.substr(i, 5) == "-----") return true;
        if (i >= 2 && text.substr(i - 2, 2) == "sk") return true;   // sk-…
        if (i >= 4 && text.substr(i - 4, 3) == "xox") return true;  // xoxb-…
        break;
      case 'A': {
        const std::string_view next = text.substr(i + 1, 3);
        if (next == "KIA" || next == "SIA" || next == "GPA" || next == "IDA" || next == "ROA" ||
            next == "Iza")
          return true;
        break;
      }
      case '_':
        if (i >= 3 && text[i - 3] == 'g' && text[i - 2] == 'h') return true;  // ghp_…
        if (i >= 2 && text[i - 1] == 'k' && (text[i - 2] == 's' || text[i - 2] == 'r'))
          return true;  // sk_live_…
        if (i >= 6 && text.substr(i - 6, 6) == "github") return true;
        break;
      case 'J':
        if (i >= 2 && text.substr(i - 2, 3) == "eyJ") return true;
        break;
      case 'b':
      case 'B':
        if (starts_with_ignoring_case(text.substr(i + 1), "earer") ||
            starts_with_ignoring_case(text.substr(i + 1), "asic")) {
          return true;
        }
        break;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

bool redact(std::string& text) {
  if (text.empty() || !may_hold_secret(text)) return false;
  bool changed = false;
  try {
    for (const Rule& rule : rules()) {
      if (!boost::regex_search(text, rule.pattern)) continue;
      text = boost::regex_replace(text, rule.pattern, rule.replacement,
                                  boost::format_perl | boost::match_default);
      changed = true;
    }
  } catch (const std::runtime_error&) {
    // Boost gives up on pathological input rather than spinning; we then cannot tell what is
    // safe, so nothing of the text survives.
    text = "[REDACTED: text too complex to scan for secrets]";
    changed = true;
  }
  return changed;
}

}  // namespace llorch::narration
