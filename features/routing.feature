Feature: Routing every event to its own user
  An event goes to the user the platform says it belongs to. A client can never redirect an
  event to someone else, and AI-agent events, which name no user, go to the session's owner.

  @e2e
  Scenario: An AI agent's proposal reaches the owner of the session
    Given user 42 has started a Genesis session
    When an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then user 42 receives the theme proposal
    And the message shows the proposal's content

  @e2e
  Scenario: A client cannot hijack routing with a user id in its command
    Given user 42 has started a Genesis session
    When a client sends a command for that session carrying user 99 as the owner
    And an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then user 42 receives the command
    And user 42 receives the theme proposal
    And user 99 receives nothing

  Scenario: Events in the nested format are routed by the user inside them
    When the platform announces in the nested format that user 7 started a session
    And an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then user 7 receives the session start
    And user 7 receives the theme proposal

  Scenario: The owner of a session is remembered when the bridge restarts
    Given user 42 has started a Genesis session
    And the bridge has processed what has arrived
    When the bridge restarts with an empty memory
    And an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then user 42 receives the theme proposal

  Scenario: Each user receives only their own sessions
    Given user 42 has started a Genesis session
    And user 43 has started a Genesis session
    When an AI agent proposes a theme for each session
    And the bridge processes what has arrived
    Then user 42 receives only events of their own session
    And user 43 receives only events of their own session
