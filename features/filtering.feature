Feature: Filtering what reaches the browser
  Only well-formed Genesis session events that browsers need are delivered. Valid events the
  browser does not need are ignored and counted; malformed records are set aside in the
  dead-letter queue with the reason they were refused. Either way the bridge moves past them.

  Background:
    Given user 42 has started a Genesis session

  Scenario Outline: Events browsers need are delivered
    When the orchestrator records a "<event type>" event for that session
    And the bridge processes what has arrived
    Then user 42 receives the "<event type>" event
    And everything that arrived is committed

    Examples:
      | event type                        |
      | Genesis.Session.Seed.Requested    |
      | Genesis.Session.Theme.Revised     |
      | Genesis.Session.World.Updated     |
      | Genesis.Session.Character.Created |
      | Genesis.Session.Plot.Evaluated    |
      | Genesis.Session.StageCompleted    |
      | Genesis.Session.Finished          |
      | Genesis.Session.BranchCreated     |

  Scenario Outline: Valid events browsers do not need are ignored, counted and committed
    When <an unneeded event> arrives
    And the bridge processes what has arrived
    Then the event is ignored as "<reason>"
    And nothing is dead-lettered
    And everything that arrived is committed

    Examples:
      | an unneeded event                                 | reason            |
      | an orchestrator event of a type nobody subscribed | not_whitelisted   |
      | a novel-service event outside any session         | not_session_event |

  Scenario Outline: Malformed records are dead-lettered with their reason
    When <a malformed record> arrives
    And the bridge processes what has arrived
    Then the record is dead-lettered with reason "<reason>"
    And nobody receives it
    And everything that arrived is committed

    Examples:
      | a malformed record                                | reason           |
      | a record cut off in the middle of its text        | invalid_json     |
      | a record whose text is not UTF-8                  | invalid_utf8     |
      | a record that is a list rather than an event      | not_an_object    |
      | an event without an event id                      | missing_field    |
      | an event whose event id is not a UUID             | bad_uuid         |
      | an event whose type is a number                   | bad_event_type   |
      | an event whose user id is an object               | bad_user_id      |
      | an event whose time is not a time                 | bad_timestamp    |
      | an event stamped ten minutes in the future        | future_timestamp |
      | an event too large for a browser message          | oversized        |
      | an agent event for a session nobody has claimed   | no_user          |

  @e2e
  Scenario: A malformed record does not hold up the events behind it
    When a record cut off in the middle of its text arrives
    And an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then the record is dead-lettered with reason "invalid_json"
    And user 42 receives the theme proposal
    And everything that arrived is committed
