#include "narration/redaction.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace llorch::narration {
namespace {

std::string redacted(std::string s) {
  redact(s);
  return s;
}

void expect_hidden(const std::string& input, const std::string& secret) {
  const std::string out = redacted(input);
  EXPECT_EQ(out.find(secret), std::string::npos) << "leaked " << secret << " in: " << out;
  EXPECT_NE(out.find("[REDACTED"), std::string::npos) << out;
}

TEST(Redaction, LeavesOrdinaryNarrationUntouched) {
  for (const char* text : {"Tokenized prompt (7 tokens)", "Generated 10 tokens",
                           "Complete! 42 tokens in 250 ms", "Loaded model: stories260K (1.1 MB)",
                           "Cache reset for job-1", "HTTP server listening on 127.0.0.1:8080"}) {
    std::string s = text;
    EXPECT_FALSE(redact(s)) << text;
    EXPECT_EQ(s, text);
  }
}

TEST(Redaction, BearerTokens) {
  EXPECT_EQ(redacted("Authorization: Bearer abc.DEF-123_xyz"), "Authorization: Bearer [REDACTED]");
  expect_hidden("sent bearer   s3cr3tT0ken== to pool", "s3cr3tT0ken");
  expect_hidden("header was 'Bearer\tmytoken42'", "mytoken42");
  expect_hidden("Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy");
}

TEST(Redaction, BareProviderKeysWherever_TheyAppear) {
  // As a client could send them: an unknown JSON field's name, a prompt, a URL path.
  const std::vector<std::string> keys{
      "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",   // OpenAI project key
      "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",            // Anthropic
      "sk-AbCdEfGhIjKlMnOpQrStUvWxYz01234567",          // OpenAI legacy
      "AKIAIOSFODNN7EXAMPLE",                           // AWS access key id
      "ASIAY34FZKBOKMUTVV7A",                           // AWS session key id
      "ghp_1234567890abcdefghijABCDEFGHIJ123456",       // GitHub personal token
      "gho_1234567890abcdefghijABCDEFGHIJ123456",       // GitHub OAuth token
      "github_pat_11ABCDEFG0123456789_abcdefghijklmn",  // GitHub fine-grained token
      "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",   // Slack bot token
      "AIzaSyA1234567890abcdefghijklmnopqrstuv",        // Google API key
      "sk_live_4eC39HqLyjWDarjtT1zdp7dc",               // Stripe secret key
  };
  for (const auto& key : keys) {
    expect_hidden(key + " is not a field of /execute; remove it", key);
    expect_hidden("Validation failed: " + key, key);
    expect_hidden("prompt was \"" + key + "\"", key);
  }
}

TEST(Redaction, WordsThatOnlyLookLikeKeyPrefixesStay) {
  for (const char* text : {"risk-free AKIA trial", "Worker ghost_1 started", "ASIA is a continent",
                           "task_live_1 finished", "desk-lamp", "AIzawa"}) {
    EXPECT_EQ(redacted(text), text);
  }
}

TEST(Redaction, KeyValueSecrets) {
  EXPECT_EQ(redacted("api_key=sk-12345 rest"), "api_key=[REDACTED] rest");
  expect_hidden("using API-KEY: sk-live-abcdef", "sk-live-abcdef");
  expect_hidden("token: tok_9f8e7d", "tok_9f8e7d");
  expect_hidden("password=hunter2&user=bob", "hunter2");
  expect_hidden("{\"client_secret\": \"c-s-e-c\"}", "c-s-e-c");
  expect_hidden("access_token=ya29.a0AfH6", "ya29.a0AfH6");
  expect_hidden("pwd:letmein", "letmein");
}

TEST(Redaction, SecretsSplitAcrossWords) {
  expect_hidden("api key = abc123def", "abc123def");  // key written as two words
  expect_hidden("password = \"correct horse battery staple\"", "horse battery");  // quoted, spaces
  expect_hidden("token :\n  multi-line-token", "multi-line-token");  // value on the next line
  expect_hidden("Bearer\n    wrapped.token.value", "wrapped.token.value");
  expect_hidden("passphrase='two words'", "two words");
}

TEST(Redaction, JsonWebTokens) {
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
      "XgL0n3I9PlFUP0THsR8U";
  EXPECT_EQ(redacted("got " + jwt + " from client"), "got [REDACTED JWT] from client");
}

TEST(Redaction, PemPrivateKeys) {
  const std::string pem =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\nq2B5PZq9n0x\n-----END RSA PRIVATE "
      "KEY-----";
  EXPECT_EQ(redacted("key: " + pem + " loaded"), "key: [REDACTED PRIVATE KEY] loaded");
  expect_hidden("-----BEGIN PRIVATE KEY----- MIIEvQIBADANBg truncated", "MIIEvQIBADANBg");
  expect_hidden(
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXk");
}

TEST(Redaction, UrlPasswords) {
  EXPECT_EQ(redacted("connecting to https://admin:pa55w0rd@pool.local:9200/v1"),
            "connecting to https://admin:[REDACTED]@pool.local:9200/v1");
  EXPECT_EQ(redacted("http://127.0.0.1:8080/execute"), "http://127.0.0.1:8080/execute");
}

TEST(Redaction, SurvivesHostileInput) {
  std::string big(200000, 'a');
  big += " password=";
  big += std::string(100000, 'b');
  redact(big);
  EXPECT_EQ(big.find("bbbb"), std::string::npos);
  std::string colons(100000, ':');
  redact(colons);  // must neither crash nor hang
  SUCCEED();
}

}  // namespace
}  // namespace llorch::narration
