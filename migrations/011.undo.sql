DROP TABLE chats;
