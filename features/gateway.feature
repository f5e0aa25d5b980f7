@e2e @browser
Feature: Browsers follow their events live, resume after a drop, and stay within limits
  A signed-in browser receives its own user's events as they happen. After a dropped
  connection it says which event it saw last and gets everything after it, without gap or
  repeat; if that event is no longer kept, it is told to reload. A user may keep only so many
  connections open at once.

  Background:
    Given user 42 has started a Genesis session

  Scenario: A connected browser receives its events live
    Given the bridge has processed what has arrived
    And user 42 has a browser connected
    When an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then the browser receives the theme proposal live

  Scenario: A browser that reconnects continues where it left off
    Given AI agents have proposed 5 times for that session
    And the bridge has processed what has arrived
    And user 42's browser saw the first 3 of those events and lost its connection
    When the browser reconnects naming the last event it saw
    And an AI agent proposes a theme for that session
    And the bridge processes what has arrived
    Then the browser receives the remaining events and then the new one, with no gap and no repeat

  Scenario: A browser that was away too long is told to reload
    Given each user's history keeps only the latest 20 events
    And the bridge has processed what has arrived
    And user 42's browser saw the first event of the session and lost its connection
    When AI agents propose 400 times for that session while the browser is away
    And the bridge processes what has arrived
    And the browser reconnects naming the last event it saw
    Then it is told to reload before any event
    And it then receives the events still kept

  Scenario: A user cannot open more connections than allowed
    Given each user may keep 2 connections open
    And the bridge has processed what has arrived
    And user 42 has 2 browsers connected
    When user 42 opens another connection
    Then it is refused as too many connections, with a time to retry
    When one of user 42's browsers disconnects
    Then user 42 can connect again
