// Removes secrets from free text before it reaches any sink.
#pragma once

#include <string>

namespace llorch::narration {

// Replaces, in place, every secret this recognises with a "[REDACTED…]" marker:
//   - bearer and basic credentials ("Authorization: Bearer abc…", split across whitespace too);
//   - key/value secrets: api_key, api-key, "api key", apikey, access/refresh/auth tokens, token,
//     secret, client_secret, password, passwd, pwd, passphrase — with ':' or '=' and optional
//     quotes, including quoted values that contain spaces;
//   - JSON Web Tokens (eyJ….….…);
//   - PEM private keys, whole blocks across lines (an unterminated block is cut to the end);
//   - passwords in URLs (scheme://user:password@host).
// Returns true when anything was replaced. Text without any trigger costs one linear scan.
bool redact(std::string& text);

}  // namespace llorch::narration
