-- Adds one batch's messages (`decoded_messages`) to `messages`, each message of a job once
-- (a message keeps its id in every record that holds it, a resumed run's too): a message
-- already held keeps its row unless this batch found it in an earlier holder (an earlier
-- step), whose row then replaces it. So the row of a message is the same whatever order the
-- files were read in, and an incremental cache equals a fresh read.
UPDATE messages AS m
SET
    run_id = b.run_id,
    position = b.position,
    type = b.type,
    text = b.text,
    tool_call_ids = b.tool_call_ids,
    message = b.message,
    checkpoint_id = b.checkpoint_id,
    step_number = b.step_number,
    source_key = b.source_key
FROM decoded_messages AS b
WHERE m.job_id = b.job_id
    AND m.message_id = b.message_id
    -- The first holder: the earlier step; at one step a checkpoint before a startGeneration
    -- event; then by checkpoint id and file (decode/conversation.py, MessageRow.holder).
    AND (
        coalesce(b.step_number, 9223372036854775807),
        b.checkpoint_id IS NULL,
        coalesce(b.checkpoint_id, ''),
        b.source_key
    ) < (
        coalesce(m.step_number, 9223372036854775807),
        m.checkpoint_id IS NULL,
        coalesce(m.checkpoint_id, ''),
        m.source_key
    );

INSERT INTO messages
SELECT b.*
FROM decoded_messages AS b
ANTI JOIN messages AS m
    ON m.job_id = b.job_id AND m.message_id = b.message_id;
