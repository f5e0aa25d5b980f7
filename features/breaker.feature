Feature: Riding out a Redis outage
  When Redis fails, the circuit breaker opens; after a cool-down a timer lets one probe through,
  which closes the breaker if Redis answers and re-opens it if not. The outage policy decides
  what happens meanwhile: pause (the default) loses nothing; drop keeps the stream fresh.

  Background:
    Given user 42 has started a Genesis session
    And the bridge has processed what has arrived

  Scenario: Under the pause policy the bridge stops consuming and loses nothing
    Given Redis becomes unavailable
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the breaker is open
    And the partitions are paused
    And nothing is committed past the last event Redis acknowledged
    When Redis comes back
    And the cool-down passes
    And the bridge processes what has arrived
    Then the breaker is closed
    And the partitions are consuming again
    And user 42 receives every proposal exactly once and in order
    And everything that arrived is committed

  Scenario: The probe is sent by a timer, not by the arrival of an event
    Given Redis becomes unavailable
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the breaker is open
    When Redis comes back
    And the cool-down passes without any new event
    Then the breaker has let one probe through and closed

  Scenario: A failed probe opens the breaker again for another cool-down
    Given Redis becomes unavailable
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    And the cool-down passes
    Then the breaker let exactly one probe through, which failed
    And the breaker is open
    And nothing is committed past the last event Redis acknowledged

  Scenario: Under the drop policy the bridge keeps consuming and counts what it drops
    Given the outage policy is drop
    And Redis becomes unavailable
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the breaker is open
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the partitions are consuming
    And the proposals that arrived while the breaker was open are counted as dropped
    When Redis comes back
    And the cool-down passes
    And AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the breaker is closed
    And user 42 receives the proposals made after Redis came back
    And user 42 never receives the proposals that were dropped
    And everything that arrived is committed

  Scenario: The seed's breaker settings are honoured
    Given the breaker is configured the seed's way with 5 failures and a 60 second recovery
    And Redis becomes unavailable
    When AI agents keep proposing for that session
    And the bridge processes what has arrived
    Then the breaker is open
    When Redis comes back
    And 59 seconds pass
    Then the breaker is open
    When 1 more second passes
    And the bridge processes what has arrived
    Then the breaker is closed
    And user 42 receives every proposal exactly once and in order

  @e2e
  Scenario: Restarting Redis in the middle of the traffic loses nothing
    Given the bridge is running
    And a stretch of Genesis traffic from 8 users with 2 percent bad records
    When Redis restarts while the traffic is being delivered
    And the bridge processes what has arrived
    Then every valid event reaches its user exactly once and in session order
    And everything that arrived is committed
