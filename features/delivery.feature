Feature: Delivering every event exactly once, in order
  Each valid event lands once in its user's stream, in the order it happened within its
  session, as a compact message the browser can use directly.

  Scenario: The browser message carries what the browser needs and nothing internal
    Given user 42 has started a Genesis session
    When the orchestrator requests a world for that session with an internal note
    And the bridge processes what has arrived
    Then user 42 receives the "Genesis.Session.World.Requested" event
    And the message names the event, its type, its session, its correlation and its time
    And the message carries the orchestrator's input
    And the message does not carry the internal note

  Scenario: A producer that had no correlation id leaves it empty
    Given user 42 has started a Genesis session
    When an AI agent proposes a theme for that session without a correlation id
    And the bridge processes what has arrived
    Then the theme proposal user 42 receives has no correlation id

  @e2e
  Scenario: A busy stretch of Genesis traffic is delivered exactly once and in order
    Given a stretch of Genesis traffic from 8 users with 5 percent bad records
    When the bridge processes what has arrived
    Then every valid event reaches its user exactly once and in session order
    And every malformed record is dead-lettered with its reason
    And everything that arrived is committed

  @e2e
  Scenario: An event the producer sent twice is delivered once
    Given user 42 has started a Genesis session
    When an AI agent proposes a theme for that session
    And the producer sends that proposal again
    And the bridge processes what has arrived
    Then user 42 receives the theme proposal exactly once

  Scenario: Events redelivered after a crash are not delivered twice
    Given the bridge commits its progress only once a minute
    And a stretch of Genesis traffic from 4 users with 0 percent bad records
    And the bridge has delivered that traffic without committing it
    When the bridge crashes and restarts
    And the bridge processes what has arrived
    Then every valid event reaches its user exactly once and in session order
    And the bridge reports the repeated events as suppressed duplicates
