-- Every dirty mark also counts up `marks`. A job reads the count with its candidates; after it
-- records its decisions (which clear the mark) it marks again the orders whose count moved
-- meanwhile (see `Store::remark_changed`): a decision made on what was read before a pull or a
-- feed read changed the order never clears their mark, so the order is decided again next run
-- instead of sleeping a week on a stale view.
ALTER TABLE orders ADD COLUMN marks INTEGER NOT NULL DEFAULT 0;

-- Writes left open on orders that had already moved past them (an ACK that failed and was to be
-- sent again when DSCO's own state moved the order on, say) are closed: nothing will send or
-- verify them any more. From now on the jobs close them when the order moves.
UPDATE intents SET state = 'confirmed',
       outcome = 'superseded: the order had already moved past this write (closed by migration 0008)'
 WHERE state IN ('pending', 'ambiguous')
   AND ((kind = 'ack' AND po IN (SELECT po FROM orders WHERE stage BETWEEN 3 AND 5))
        OR po IN (SELECT po FROM orders WHERE stage = 5));
UPDATE intents SET state = 'failed',
       outcome = 'superseded: the order was cancelled (closed by migration 0008)'
 WHERE state IN ('pending', 'ambiguous')
   AND po IN (SELECT po FROM orders WHERE stage = 6);
