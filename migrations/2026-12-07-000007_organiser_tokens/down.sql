DROP TABLE organiser_tokens;
DROP TABLE organisers;
