#!/usr/bin/env python3
"""Writes user-data export files (the format 'agentry import user' reads) to fill a database to a stated size.

Usage: make-user-data.py FOLDER USERS CONVERSATIONS_PER_USER MESSAGES_PER_CONVERSATION
Each message is about 400 characters of varied text, like a support conversation's turns."""
import json, random, sys
from datetime import datetime, timedelta, timezone

folder, users, per_user, per_conversation = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(7)
words = ("invoice refund plan upgrade charge card account billing support password reset order delivery "
         "shipping return warranty subscription discount renewal payment receipt question answer please thanks").split()
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
for u in range(users):
    conversations = []
    for c in range(per_user):
        created = start + timedelta(minutes=u * per_user + c)
        cid = f"conv_bench{u:04d}{c:06d}"
        messages = []
        for m in range(per_conversation):
            role = "user" if m % 2 == 0 else "assistant"
            text = " ".join(random.choice(words) for _ in range(60))
            messages.append({"id": f"msg_{cid[5:]}{m:04d}", "sequence": m + 1, "role": role, "agentId": "support",
                             "content": text, "model": None if role == "user" else "offline",
                             "status": "completed", "createdAt": (created + timedelta(seconds=m)).isoformat()})
        conversations.append({"id": cid, "agentId": "support", "title": f"Bench {u}/{c}", "createdAt": created.isoformat(),
                              "updatedAt": (created + timedelta(seconds=per_conversation)).isoformat(),
                              "messages": messages, "approvals": []})
    export = {"format": "agentry.user-data/1", "userId": f"bench-user-{u}", "exportedAt": start.isoformat(), "exportedBy": "bench",
              "conversationCount": len(conversations), "messageCount": per_user * per_conversation, "conversations": conversations}
    with open(f"{folder}/user-{u}.json", "w") as f:
        json.dump(export, f)
