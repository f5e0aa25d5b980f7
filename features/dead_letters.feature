Feature: Dead letters are kept before the bridge moves on
  A malformed record is committed only after the dead-letter queue has acknowledged it, so a
  record is never both refused and forgotten.

  Background:
    Given user 42 has started a Genesis session
    And the bridge has processed what has arrived

  Scenario: A malformed record waits for the dead-letter queue to come back
    Given the dead-letter queue is unavailable
    When a record cut off in the middle of its text arrives
    And the bridge processes what has arrived
    Then nothing is dead-lettered
    And the malformed record is not committed
    When the dead-letter queue is available again
    And the bridge processes what has arrived
    Then the record is dead-lettered with reason "invalid_json"
    And everything that arrived is committed

  Scenario: The dead letter keeps the original record exactly as it was
    When a record whose text is not UTF-8 arrives
    And the bridge processes what has arrived
    Then the dead letter holds the record's original bytes and key
