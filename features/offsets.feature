Feature: Progress is committed only for finished work
  The bridge consumes at least once and delivers exactly once: it commits, per partition, only
  up to the first event that is not yet finished, and hands work over cleanly.

  Scenario: Partitions taken away in a rebalance are handed over without loss or repeat
    Given a stretch of Genesis traffic from 6 users with 2 percent bad records
    And the bridge has processed half of what has arrived
    When the partitions are taken away in a rebalance and given back
    And the bridge processes what has arrived
    Then every valid event reaches its user exactly once and in session order
    And everything that arrived is committed

  Scenario: A shutdown finishes the work in hand and commits it once
    Given the bridge commits its progress only once a minute
    And a stretch of Genesis traffic from 4 users with 0 percent bad records
    And the bridge has delivered that traffic without committing it
    When the bridge is asked to shut down
    Then everything that arrived is committed
    And asking it to shut down again commits nothing more
