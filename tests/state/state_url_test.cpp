// --state: which URLs and credential settings are taken, and what a refusal says.
#include "state/state_url.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace llorch::state {
namespace {

using namespace std::chrono_literals;

// The message of the refusal of `url` ("" when it is accepted).
std::string refusal(const std::string& url, std::chrono::milliseconds ttl = 15000ms) {
  try {
    state_config(url, ttl);
    return "";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

TEST(StateUrl, TakesNatsHostAndPort) {
  EXPECT_EQ(refusal("nats://127.0.0.1:4222"), "");
  EXPECT_EQ(refusal("nats://nats.internal:4222"), "");
  EXPECT_EQ(refusal("nats://nats-0.nats:65535"), "");
}

TEST(StateUrl, TakesEachServerOfACluster) {
  const StateConfig c = state_config("nats://n1:4222,nats://n2:4222,nats://10.0.0.3:4223", 15000ms);
  EXPECT_EQ(c.servers,
            (std::vector<std::string>{"nats://n1:4222", "nats://n2:4222", "nats://10.0.0.3:4223"}));
  EXPECT_EQ(c.url, "nats://n1:4222,nats://n2:4222,nats://10.0.0.3:4223") << "as given, to narrate";
  EXPECT_EQ(state_config("nats://n1:4222", 15000ms).servers,
            std::vector<std::string>{"nats://n1:4222"});
}

TEST(StateUrl, KeepsStreamsOnOneToFiveServers) {
  EXPECT_EQ(state_config("nats://h:1", 15000ms).replicas, 1);
  EXPECT_EQ(state_config("nats://h:1", 15000ms, 3).replicas, 3);
  EXPECT_EQ(state_config("nats://h:1", 15000ms, 5).replicas, 5);
  for (int replicas : {0, -1, 6}) {
    try {
      state_config("nats://h:1", 15000ms, replicas);
      ADD_FAILURE() << replicas << " taken";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("--state-replicas"), std::string::npos) << e.what();
    }
  }
}

TEST(StateUrl, RefusesEverythingElseSayingTheForm) {
  for (const char* url :
       {"", "nats://", "nats://host", "nats://:4222", "http://host:4222", "nats://host:0",
        "nats://host:65536", "nats://host:42a2", "nats://user:pass@host:4222",
        "nats://host:4222/path", "nats://ho st:4222", "nats://host:123456", ",", "nats://a:1,",
        ",nats://a:1", "nats://a:1,,nats://b:2", "nats://a:1, nats://b:2",
        "nats://a:1,http://b:2"}) {
    const std::string why = refusal(url);
    EXPECT_NE(why.find("nats://HOST:PORT"), std::string::npos) << url << ": " << why;
  }
  EXPECT_NE(refusal("nats://user:pass@host:4222").find("LLORCH_NATS_TOKEN"), std::string::npos)
      << "credentials belong in the environment";
}

TEST(StateUrl, ReadsCredentialsFromTheEnvironmentAndChecksThePairs) {
  ::setenv("LLORCH_NATS_TOKEN", "a-token", 1);
  ::unsetenv("LLORCH_NATS_USER");
  ::unsetenv("LLORCH_NATS_PASSWORD");
  EXPECT_EQ(state_config("nats://h:1", 15000ms).token, "a-token");
  ::unsetenv("LLORCH_NATS_TOKEN");
  ::setenv("LLORCH_NATS_USER", "llorch", 1);
  EXPECT_NE(refusal("nats://h:1").find("go together"), std::string::npos);
  ::setenv("LLORCH_NATS_PASSWORD", "secret", 1);
  const StateConfig both = state_config("nats://h:1", 15000ms);
  EXPECT_EQ(both.user, "llorch");
  EXPECT_EQ(both.password, "secret");
  ::unsetenv("LLORCH_NATS_USER");
  ::unsetenv("LLORCH_NATS_PASSWORD");
  EXPECT_NE(refusal("nats://h:1", 999ms).find("at least 1000"), std::string::npos);
}

}  // namespace
}  // namespace llorch::state
